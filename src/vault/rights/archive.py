"""The statutory archive: data kept only because a law requires it (GDPR 17(3)(b), PIPA 21(1) proviso, 21(3)).

When a field's purpose retention has ended (or the customer is erased) but a statute with a
retention period of its own still covers it (statutes.yaml, e.g. prize withholding records for
5 years), the field leaves the customer record for this archive: re-sealed under a fresh key per
archive record, wrapped under the KEK in its own context (``archive:<record id>``,
:mod:`vault.crypto.archive`), so neither the customer's key nor any customer read path opens it.
PIPA 21(3) asks that such data be stored separately from other personal data.

Only ``archive:read`` (compliance officers, for the statute's purpose or legal claims) reads it;
every read is audited before it is returned. Retention destroys a record (its wrapped key and
ciphertexts) once ``destroy_after`` passes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec
from sqlalchemy import delete, select

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.crypto.archive import archive_key, new_archive_key
from vault.crypto.keys import WrappedKey
from vault.customers.records import customer_key, open_fields
from vault.lib.clock import as_utc
from vault.lib.ids import new_id
from vault.rights.models import StatutoryArchiveRow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.customers.models import CustomerRow
    from vault.policy.statutes import Statute


@dataclass(frozen=True, slots=True)
class ArchivedRecord:
    """One archive record as an authorised reader sees it."""

    id: uuid.UUID
    customer_id: uuid.UUID
    statute: str
    fields: dict[str, str]
    archived_at: datetime
    destroy_after: datetime
    reason: str


def sealed_record(keyring: Keyring, row: CustomerRow, statute: Statute, names: Sequence[str], until: datetime,
                  now: datetime, reason: str) -> StatutoryArchiveRow | None:
    """A new archive record holding ``names`` of ``row``, sealed under its own key (None: none of them is held)."""
    if row.wrapped_dek is None:
        return None
    values = open_fields(customer_key(keyring, row), row.sealed, set(names))
    if not values:
        return None
    rid = new_id()
    key, wrapped = new_archive_key(keyring.provider, rid)
    return StatutoryArchiveRow(
        id=rid, customer_id=row.id, statute=statute.id, fields=",".join(sorted(values)),
        kek_version=wrapped.kek_version, wrapped_key=wrapped.blob,
        sealed=msgspec.msgpack.encode({n: key.seal(n, v) for n, v in values.items()}),
        archived_at=now, destroy_after=until, reason=reason[:200])


async def move(session: AsyncSession, keyring: Keyring, row: CustomerRow, statute: Statute,
               names: Sequence[str], until: datetime, now: datetime, reason: str) -> list[str]:
    """Copy ``names`` of ``row`` into a new archive record sealed under its own key (the caller then removes
    them from the customer record, or shreds the record). Returns the field names archived."""
    record = sealed_record(keyring, row, statute, names, until, now, reason)
    if record is None:
        return []
    session.add(record)
    await session.flush()
    return record.fields.split(",")


async def destroy_expired(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Delete archive records whose statutory period has ended (their key goes with them); returns the
    customers concerned."""
    ids = (await session.scalars(select(StatutoryArchiveRow.customer_id).where(
        StatutoryArchiveRow.destroy_after <= now))).all()
    if ids:
        await session.execute(delete(StatutoryArchiveRow).where(StatutoryArchiveRow.destroy_after <= now))
    return list(dict.fromkeys(ids))


def open_record(keyring: Keyring, r: StatutoryArchiveRow) -> ArchivedRecord:
    """Decrypt one archive record (callers authorize and audit)."""
    key = archive_key(keyring.provider, r.id, WrappedKey(r.kek_version, r.wrapped_key))
    blobs: dict[str, bytes] = msgspec.msgpack.decode(r.sealed)
    return ArchivedRecord(r.id, r.customer_id, r.statute, {n: key.open(n, b) for n, b in blobs.items()},
                          as_utc(r.archived_at), as_utc(r.destroy_after), r.reason)


async def records_of(session: AsyncSession, customer_id: uuid.UUID) -> list[StatutoryArchiveRow]:
    """One customer's archive records, oldest first (still sealed)."""
    return list((await session.scalars(select(StatutoryArchiveRow).where(
        StatutoryArchiveRow.customer_id == customer_id).order_by(StatutoryArchiveRow.archived_at))).all())


async def open_records(session: AsyncSession, keyring: Keyring, customer_id: uuid.UUID) -> list[ArchivedRecord]:
    """Decrypt one customer's archive records (callers authorize and audit: :meth:`StatutoryArchive.read`, and
    the subject's own export, GDPR 15 / PIPA 35, which must show everything still held about them)."""
    return [open_record(keyring, r) for r in await records_of(session, customer_id)]


class StatutoryArchive:
    """Reads of the archive (``archive:read``, audited) on one session: the caller opens a read transaction."""

    def __init__(self, session: AsyncSession, keyring: Keyring, guard: Guard, audit: AuditLog) -> None:
        self._session = session
        self._keyring = keyring
        self._guard = guard
        self._audit = audit

    async def read(self, customer_id: uuid.UUID, caller: Caller) -> list[ArchivedRecord]:
        """The archived records of one customer, decrypted; audited (``archive.read``) before they are returned.

        Raises:
            AccessDeniedError: no ``archive:read`` for the caller's purpose (audited).
        """
        purpose = await self._guard.require(caller, perms.ARCHIVE_READ, "archive.read", customer_id=customer_id)
        out = await open_records(self._session, self._keyring, customer_id)
        await self._audit.record_durable(AuditEvent(
            "archive.read", Outcome.ALLOWED, caller.actor, purpose=purpose.id, customer_id=customer_id,
            fields=tuple(sorted({n for a in out for n in a.fields})), request_id=caller.request_id,
            client_ip=caller.client_ip, detail=f"{len(out)} archive records"))
        return out
