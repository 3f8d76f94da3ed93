"""Provision to third parties and transfer abroad: the audited "provide" action and its log.

PIPA arts. 17 and 28-8 allow giving personal data to a third party, or transferring it abroad,
on the data subject's consent; GDPR art. 15(1)(c) and PIPA art. 20-2 ask the controller to tell
people who actually received their data. ``provide`` is the only way the vault hands a
purpose's items to its recipient: for a purpose that names a ``recipient`` in purposes.yaml, it
checks the caller's ``provisions:provide`` grant for that purpose, that every requested item is
one of the purpose's fields, and each customer's *current* consent (not restricted, not
erased); it then records one provision row per customer (recipient, country, items, time,
transfer mechanism, the notice version consented to) and one audit entry listing the subjects,
in the transaction that commits before the values are returned.

The log feeds the data-subject export's ``recipients.third_parties`` and the periodic usage
notice (:class:`UsageNotices`, ``vault notices usage``).

:class:`ProvisionService` works on the caller's session (the API handler opens the write transaction);
:class:`UsageNotices` is a job over every active customer that reads one page per transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert, select

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.consent.models import ConsentStateRow
from vault.customers.errors import FieldNotForPurposeError
from vault.customers.models import CustomerRow
from vault.customers.records import customer_key, open_fields
from vault.errors import BadRequestError, InvalidInputError
from vault.lib.clock import as_utc, utcnow
from vault.rights.models import ProvisionRow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.db.engine import Database
    from vault.policy.purposes import Purpose, PurposeCatalogue

#: How the data leaves: through the recipient's API, a file over SFTP, or a portal upload.
MECHANISMS = ("api", "sftp", "portal_upload", "encrypted_file")
MAX_CUSTOMERS = 1000


class NotAProvisionPurposeError(InvalidInputError):
    """The purpose names no recipient (not a third-party or cross-border purpose)."""

    code = "provision.not_a_provision_purpose"
    title = "Not a provision purpose"


@dataclass(frozen=True)
class ProvisionDeps:
    """Collaborators of :class:`ProvisionService` and :class:`UsageNotices` (``db``: the notices' page reads)."""

    db: Database
    keyring: Keyring
    purposes: PurposeCatalogue
    guard: Guard
    audit: AuditLog


@dataclass(frozen=True, slots=True)
class Provided:
    """What one ``provide`` call handed over and refused."""

    purpose: str
    recipient: str
    country: str | None
    mechanism: str
    items: tuple[str, ...]
    provided_at: datetime
    values: dict[uuid.UUID, dict[str, str]]
    refused: dict[uuid.UUID, str]


@dataclass(slots=True)
class UsageNotice:
    """One customer's periodic usage notice (PIPA 20-2): purposes processed and provisions made."""

    customer_id: uuid.UUID
    purposes: list[dict[str, object]] = field(default_factory=list)
    provisions: list[dict[str, object]] = field(default_factory=list)


class ProvisionService:
    """The provide action on one session (the caller commits)."""

    def __init__(self, session: AsyncSession, deps: ProvisionDeps) -> None:
        self._session = session
        self._d = deps

    def _purpose(self, purpose_id: str | None) -> Purpose:
        pid = self._d.guard.policy.check_purpose(purpose_id)
        purpose = self._d.purposes.get(pid)
        assert purpose is not None  # check_purpose refuses unknown ids
        if not purpose.recipient:
            raise NotAProvisionPurposeError(
                f"purpose {pid!r} names no recipient; provide is for third-party and cross-border purposes "
                f"({', '.join(p.id for p in self._d.purposes if p.recipient)})",
                purpose=pid, valid=[p.id for p in self._d.purposes if p.recipient])
        return purpose

    async def provide(self, customer_ids: list[uuid.UUID], caller: Caller, *, mechanism: str,
                      items: list[str] | None = None) -> Provided:
        """Hand ``items`` (default: all the purpose's fields) of consenting customers to the purpose's recipient.

        Customers without a current consent, restricted or erased ones are refused (named with the
        reason in the result); the others are recorded in the provision log and audited before
        their values are returned.

        Raises:
            PermissionDeniedError / PurposeDeniedError: the caller may not provide for this purpose.
            NotAProvisionPurposeError: the purpose has no recipient.
            FieldNotForPurposeError: an item is not one of the purpose's fields (422 naming field and purpose).
            BadRequestError: unknown mechanism, no customers, or too many.
        """
        ids = list(dict.fromkeys(customer_ids))
        subject = ids[0] if len(ids) == 1 else None
        try:
            purpose = self._purpose(caller.purpose)
            if mechanism not in MECHANISMS:
                raise BadRequestError(f"mechanism must be one of {', '.join(MECHANISMS)}")
            if not ids or len(ids) > MAX_CUSTOMERS:
                raise BadRequestError(f"give 1 to {MAX_CUSTOMERS} customer ids")
            wanted = tuple(items) if items else purpose.fields
            for name in wanted:
                if name not in purpose.fields:
                    raise FieldNotForPurposeError(name, purpose.id, purpose.fields)
        except (InvalidInputError, BadRequestError) as exc:
            await self._d.guard.deny(caller, "provision.provide", exc, customer_id=subject)
        await self._d.guard.require(caller, perms.PROVISIONS_PROVIDE, "provision.provide", customer_id=subject)
        now = utcnow()
        refused: dict[uuid.UUID, str] = {}
        values: dict[uuid.UUID, dict[str, str]] = {}
        session = self._session
        rows = {r.id: r for r in (await session.scalars(select(CustomerRow).where(CustomerRow.id.in_(ids)))).all()}
        consenting = await self._d.guard.lawful.with_basis(session, [i for i in ids if i in rows], purpose)
        notices = dict((await session.execute(
            select(ConsentStateRow.customer_id, ConsentStateRow.notice_version).where(
                ConsentStateRow.purpose == purpose.id, ConsentStateRow.customer_id.in_(list(consenting))))).all())
        for cid in ids:
            row = rows.get(cid)
            if row is None or row.wrapped_dek is None or row.status != "active":
                refused[cid] = "not_found"
            elif row.restricted_at is not None:
                refused[cid] = "restricted"
            elif cid not in consenting:
                refused[cid] = "no_current_consent"
            else:
                values[cid] = open_fields(customer_key(self._d.keyring, row), row.sealed, set(wanted))
        if values:
            await session.execute(insert(ProvisionRow), [{
                "id": uuid.uuid4(), "customer_id": cid, "purpose": purpose.id, "recipient": purpose.recipient,
                "country": purpose.country, "items": ",".join(sorted(v)), "mechanism": mechanism,
                "legal_basis": str(purpose.lawful_basis), "notice_version": notices.get(cid),
                "provided_at": now,
                "principal_id": caller.principal.id if caller.principal is not None else None,
                "request_id": caller.request_id,
            } for cid, v in values.items()])
        await self._d.audit.record(session, AuditEvent(
            "provision.provide", Outcome.ALLOWED if values else Outcome.DENIED, caller.actor,
            purpose=purpose.id, subjects=tuple(sorted(values, key=lambda u: u.hex)), fields=tuple(sorted(wanted)),
            request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"recipient={purpose.recipient!s} country={purpose.country or '-'} mechanism={mechanism} "
                   f"provided={len(values)} refused={len(refused)}"))
        return Provided(purpose.id, purpose.recipient or "", purpose.country, mechanism, tuple(wanted), now,
                        values, refused)


class UsageNotices:
    """The periodic usage notice (PIPA 20-2) over every active customer: a job reading one page per transaction."""

    def __init__(self, deps: ProvisionDeps) -> None:
        self._d = deps

    async def run(self, caller: Caller, *, since: datetime, until: datetime,
                  page: int = 1000) -> AsyncIterator[UsageNotice]:
        """Every active customer's usage notice for ``[since, until)`` (PIPA 20-2), in id order.

        Each notice lists the purposes the customer's data is processed for (those resting on
        contract, law or legitimate interest, and the consent purposes with a current consent)
        with their items and retention, and the provisions made to third parties or abroad.
        The run is audited (``notice.usage``, with the number of customers).
        """
        await self._d.guard.require_any_purpose(caller, perms.NOTICES_READ, "notice.usage")
        if as_utc(since) >= as_utc(until):
            raise BadRequestError("since must be before until")
        count = 0
        after: uuid.UUID | None = None
        while True:
            async with self._d.db.read() as session:
                q = select(CustomerRow.id).where(CustomerRow.status == "active",
                                                 CustomerRow.wrapped_dek.is_not(None))
                if after is not None:
                    q = q.where(CustomerRow.id > after)
                ids = list((await session.scalars(q.order_by(CustomerRow.id).limit(page))).all())
                if not ids:
                    break
                after = ids[-1]
                notices = {cid: UsageNotice(cid) for cid in ids}
                for purpose in self._d.purposes:
                    for cid in await self._d.guard.lawful.with_basis(session, ids, purpose):
                        notices[cid].purposes.append({
                            "purpose": purpose.id, "lawful_basis": str(purpose.lawful_basis),
                            "items": list(purpose.fields), "retention_days": purpose.retention_days})
                prov = (await session.scalars(select(ProvisionRow).where(
                    ProvisionRow.customer_id.in_(ids), ProvisionRow.provided_at >= since,
                    ProvisionRow.provided_at < until).order_by(ProvisionRow.provided_at))).all()
                for p in prov:
                    notices[p.customer_id].provisions.append({
                        "recipient": p.recipient, "country": p.country, "purpose": p.purpose,
                        "items": p.items.split(","), "mechanism": p.mechanism,
                        "provided_at": as_utc(p.provided_at).isoformat()})
            for cid in ids:
                count += 1
                yield notices[cid]
        await self._d.audit.record_durable(AuditEvent(
            "notice.usage", Outcome.ALLOWED, caller.actor, subject_count=count, request_id=caller.request_id,
            detail=f"since={as_utc(since).isoformat()} until={as_utc(until).isoformat()} customers={count}"))
