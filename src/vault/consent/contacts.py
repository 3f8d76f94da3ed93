"""Consented contact resolution: "which customers may I email for this purpose, and at what address?"

A call is answered in two passes so that the audit entry is durable before any contact
leaves the vault, while memory stays bounded for a million contacts:

1. **ids pass**: keyset-paginated, id-only query of the eligible customers; the ids are
   packed 16 bytes each into a :class:`SubjectList` (1M ids = 16 MB) whose digest is
   computed as they arrive. One audit entry (count, digest, ids in ``audit_subjects``)
   is committed.
2. **stream pass**: the same predicate, re-evaluated page by page in short read
   transactions, joined with a merge-walk over the audited ids: only audited customers
   are streamed, and one who withdraws mid-stream is dropped from the pages not yet sent.
   Each row's DEK is unwrapped and only the channel's fields are decrypted.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import ColumnElement, Select, and_, exists, select
from sqlalchemy.orm import aliased

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.audit.subjects import SubjectList
from vault.consent.errors import InvalidConsentError, JustificationRequiredError, UnknownChannelError
from vault.consent.ledger import effective_clause
from vault.consent.models import ConsentStateRow
from vault.consent.rules import is_night, utc
from vault.crypto.keys import WrappedKey
from vault.customers.gate import contactable_clause as rights_clause
from vault.customers.gate import is_direct_marketing
from vault.customers.models import CustomerIndexRow, CustomerRow
from vault.customers.records import open_fields
from vault.lib.clock import utcnow
from vault.policy.purposes import CHANNEL_FIELDS, CHANNEL_REQUIRED, NIGHT_CHANNELS, Channel

if TYPE_CHECKING:
    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.db.engine import Database
    from vault.lib.ratelimit import VolumeWindow
    from vault.policy.purposes import Purpose, PurposeCatalogue

Clock = Callable[[], datetime]
#: Given the customer-id column of the query, a SQL condition on it.
ScopeClause = Callable[[Any], ColumnElement[bool]]
MAX_IDS = 1000
PAST_SKEW = timedelta(minutes=5)
MAX_AHEAD = timedelta(days=366)
_encode = msgspec.json.Encoder().encode


def contactable_clause(purpose: Purpose | None = None) -> ColumnElement[bool]:
    """SQL: the customer may be contacted for ``purpose``.

    The record is active (not soft-deleted) and not erased, processing is not restricted
    (GDPR Art. 18, PIPA Art. 37) and, when ``purpose`` is direct marketing, the customer has
    not objected to it (GDPR Art. 21(2)-(3)); see :mod:`vault.customers.gate`. The stream pass
    re-evaluates it page by page, so a restriction or objection takes effect at once.
    """
    return and_(CustomerRow.status == "active", CustomerRow.erased_at.is_(None), rights_clause(purpose))


@dataclass(frozen=True, slots=True)
class ContactQuery:
    """What the caller asks for."""

    channel: str | None
    at: datetime | None = None
    customer_ids: tuple[uuid.UUID, ...] | None = None
    #: Only customers this SQL clause factory accepts (a segment snapshot, built by vault.segments);
    #: ``scope_name`` (e.g. ``core-customers@3``) is recorded in the audit entry.
    scope: ScopeClause | None = None
    scope_name: str | None = None
    justification: str | None = None  # required above the volume caps; audited


@dataclass(frozen=True, slots=True)
class ContactPlan:
    """A resolved, audited answer, ready to stream."""

    purpose: Purpose
    channel: Channel
    at: datetime
    night: bool
    fields: tuple[str, ...]
    subjects: SubjectList
    audit_seq: int
    customer_ids: tuple[uuid.UUID, ...] | None
    scope: ScopeClause | None = None

    @property
    def count(self) -> int:
        """How many customers were resolved (and audited)."""
        return len(self.subjects)


@dataclass(frozen=True)
class ContactDeps:
    """Collaborators of :class:`ContactResolver`."""

    db: Database
    keyring: Keyring
    purposes: PurposeCatalogue
    guard: Guard
    audit: AuditLog
    clock: Clock = utcnow
    #: Customers never contacted for direct marketing or by segment (department labels ``blacklist`` /
    #: ``do_not_contact``); wired by bootstrap from vault.segments, which sits above this package.
    blocked: ScopeClause | None = None
    volume: VolumeWindow | None = None  # contacts resolved per principal (24 h)
    per_request: int = 10_000
    per_day: int = 50_000


def _justification(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    clean = " ".join(text.split())
    if not 10 <= len(clean) <= 500:
        raise InvalidConsentError("justification must be 10-500 characters", field="justification")
    return clean


class ContactResolver:
    """Resolves and streams consented contacts; opens its own short read transactions."""

    def __init__(self, deps: ContactDeps, *, page_size: int = 5000) -> None:
        self._d = deps
        self._page = page_size

    # -- validation and access ----------------------------------------------------------------------

    def _check(self, query: ContactQuery, caller: Caller) -> tuple[Purpose, Channel, datetime]:
        pid = self._d.guard.policy.check_purpose(caller.purpose)
        purpose = self._d.purposes.get(pid)
        assert purpose is not None
        if pid in self._d.purposes.supplements:
            users = sorted(p.id for p in self._d.purposes if p.night_opt_in_purpose == pid)
            raise InvalidConsentError(
                f"purpose {pid!r} is a night-time opt-in that only widens {', '.join(users)}; resolve contacts "
                "for one of those (the night opt-in is applied automatically between 21:00 and 08:00 KST)",
                purpose=pid, valid=users)
        valid = [str(c) for c in purpose.channels]
        if not valid:
            raise UnknownChannelError(
                f"purpose {pid!r} has no contact channel; it cannot be used to contact customers",
                purpose=pid, valid=valid)
        if query.channel not in valid:
            known = query.channel in {c.value for c in Channel}
            raise UnknownChannelError(
                (f"purpose {pid!r} is not collected on channel {query.channel!r}" if known
                 else f"unknown channel {query.channel!r}") + f"; valid channels for {pid}: {', '.join(valid)}",
                purpose=pid, valid=valid)
        now = utc(self._d.clock())
        if query.at is not None and query.at.tzinfo is None:
            raise InvalidConsentError("`at` must carry a UTC offset (e.g. 2026-12-01T22:00:00+09:00)", field="at")
        at = utc(query.at) if query.at else now
        if at < now - PAST_SKEW:
            raise InvalidConsentError("`at` may not lie in the past: consent state is known only as of now",
                                      field="at")
        if at > now + MAX_AHEAD:
            raise InvalidConsentError("`at` may lie at most 366 days ahead", field="at")
        if query.customer_ids is not None and not 0 < len(query.customer_ids) <= MAX_IDS:
            raise InvalidConsentError(f"give between 1 and {MAX_IDS} customer ids", field="customer_id")
        return purpose, Channel(query.channel), at

    # -- the eligibility predicate ------------------------------------------------------------------

    def _where(self, purpose: Purpose, channel: Channel, at: datetime, night: bool,
               ids: tuple[uuid.UUID, ...] | None,
               scope: ScopeClause | None = None) -> tuple[Any, list[ColumnElement[bool]], Any]:
        """((FROM, join), WHERE clauses, key column) of "customers to contact"; the key is the customer id."""
        clauses: list[ColumnElement[bool]] = [contactable_clause(purpose)]
        if purpose.is_consent:
            state = aliased(ConsentStateRow, name="s")
            key: Any = state.customer_id
            frm: Any = state
            # Walks ix_consent_state_resolve (purpose, channel, status, customer_id) in keyset order; the
            # reconfirmation cutoff is a residual filter on the rows it visits.
            clauses += [effective_clause(purpose, at, state, residual=True), state.channel == channel.value]
            if night:
                night_purpose = self._d.purposes.get(purpose.night_opt_in_purpose or "")
                assert night_purpose is not None
                opt = aliased(ConsentStateRow, name="n")
                clauses.append(exists(select(opt.customer_id).where(
                    opt.customer_id == state.customer_id, opt.channel == channel.value,
                    effective_clause(night_purpose, at, opt))))
            join_on = CustomerRow.id == state.customer_id
        else:
            key = CustomerRow.id
            frm = None
            join_on = None
        required = CHANNEL_REQUIRED[channel]
        if required[0] in ("email", "phone"):
            # The blind index holds a row exactly when the sealed field is present: check it without decrypting.
            # `field || ''` keeps planners on the customer_id index: SQLite without statistics would
            # otherwise scan the (field, digest) primary key for every candidate row.
            clauses.append(exists(select(CustomerIndexRow.customer_id).where(
                CustomerIndexRow.customer_id == key, (CustomerIndexRow.field + "") == required[0])))
        if ids is not None:
            clauses.append(key.in_(ids))
        if scope is not None:
            clauses.append(scope(key))
        if self._d.blocked is not None and (scope is not None or is_direct_marketing(purpose)):
            clauses.append(~self._d.blocked(key))
        return (frm, join_on), clauses, key

    def _select(self, cols: list[Any], frm: tuple[Any, Any], clauses: list[ColumnElement[bool]]) -> Select[Any]:
        source, join_on = frm
        q = select(*cols)
        if source is not None:
            q = q.select_from(source).join(CustomerRow, join_on)
        return q.where(*clauses)

    # -- pass 1: resolve ids, audit --------------------------------------------------------------------

    async def plan(self, query: ContactQuery, caller: Caller) -> ContactPlan:
        """Check the request, resolve the eligible ids and commit the audit entry (before any data leaves).

        Raises:
            PurposeRequiredError, UnknownPurposeError, UnknownChannelError, InvalidConsentError (422);
            AccessDeniedError (403, audited); AuditWriteError.
        """
        purpose, channel, at = self._check(query, caller)
        await self._d.guard.require(caller, perms.CONTACTS_READ, "contacts.resolve")
        justification = _justification(query.justification)
        night = purpose.night_opt_in_required and channel in NIGHT_CHANNELS and is_night(at)
        frm, clauses, key = self._where(purpose, channel, at, night, query.customer_ids, query.scope)
        subjects = SubjectList()
        last: uuid.UUID | None = None
        async with self._d.db.read() as session:
            while True:
                q = self._select([key], frm, [*clauses, *([key > last] if last else [])]).order_by(key)
                page = (await session.scalars(q.limit(self._page * 4))).all()
                for cid in page:
                    subjects.append(cid)
                if len(page) < self._page * 4:
                    break
                last = page[-1]
        await self._check_volume(caller, len(subjects), justification)
        fields = tuple(f for f in CHANNEL_FIELDS[channel] if f in purpose.fields)
        seq = await self._d.audit.record_bulk_durable(AuditEvent(
            "contacts.resolve", Outcome.ALLOWED, caller.actor, purpose=purpose.id, fields=fields,
            request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"channel={channel.value} at={at.isoformat()} night_opt_in_applied={night}"
                   + (f" ids_given={len(query.customer_ids)}" if query.customer_ids else "")
                   + (f" segment={query.scope_name}" if query.scope_name else "")
                   + (f" justification={justification}" if justification else "")), subjects)
        return ContactPlan(purpose, channel, at, night, fields, subjects, seq, query.customer_ids, query.scope)

    async def _check_volume(self, caller: Caller, count: int, justification: str | None) -> None:
        """Above the per-request or per-day cap a resolution needs a justification (denial audited)."""
        if caller.principal is None:
            return
        volume, pid = self._d.volume, caller.principal.id
        so_far = volume.total(pid) if volume is not None else 0
        if (count > self._d.per_request or so_far + count > self._d.per_day) and not justification:
            await self._d.guard.deny(caller, "contacts.resolve", JustificationRequiredError(
                f"{count} contacts (after {so_far} in the last 24 h) exceed the volume caps of {self._d.per_request} "
                f"per request and {self._d.per_day} per day: repeat with a `justification` (10-500 characters, "
                "no personal data); it is audited", purpose=caller.purpose))
        if volume is not None:
            volume.add(pid, count)

    # -- pass 2: stream -------------------------------------------------------------------------------

    async def stream(self, plan: ContactPlan) -> AsyncIterator[bytes]:
        """NDJSON lines ``{"customer_id": ..., <channel fields>}``, one page of rows per chunk.

        Only audited customers that are still eligible when their page is read are sent.
        """
        if not plan.count:
            return
        frm, clauses, key = self._where(plan.purpose, plan.channel, plan.at, plan.night, plan.customer_ids,
                                        plan.scope)
        cols = [CustomerRow.id, CustomerRow.kek_version, CustomerRow.wrapped_dek, CustomerRow.dek_version,
                CustomerRow.sealed]
        audited = plan.subjects.packed()
        pos, end = 0, len(audited)
        stop = plan.subjects.last
        assert stop is not None
        cipher = self._d.keyring.cipher
        wanted = set(plan.fields)
        required = CHANNEL_REQUIRED[plan.channel]
        last: uuid.UUID | None = None
        while True:
            bounds = [key <= stop, *([key > last] if last else [])]
            async with self._d.db.read() as session:
                rows = (await session.execute(
                    self._select(cols, frm, [*clauses, *bounds]).order_by(key).limit(self._page))).all()
            lines: list[bytes] = []
            for cid, kek_version, wrapped, dek_version, sealed in rows:
                raw = cid.bytes
                while pos < end and audited[pos:pos + 16] < raw:
                    pos += 16
                if pos >= end or audited[pos:pos + 16] != raw or wrapped is None:
                    continue  # not audited (became eligible after pass 1) or crypto-shredded
                dek = cipher.customer_key(cid, WrappedKey(kek_version, wrapped), dek_version)
                values = open_fields(dek, sealed, wanted)
                if any(f not in values for f in required):
                    continue
                values["customer_id"] = str(cid)
                lines.append(_encode(values))
            if lines:
                yield b"\n".join(lines) + b"\n"
            if len(rows) < self._page:
                return
            last = rows[-1][0]
