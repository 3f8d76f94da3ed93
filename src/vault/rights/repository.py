"""The SQL of the rights services, behind protocols (unit tests run the services against in-memory fakes).

:class:`RequestRepository` serves the requests registry (:class:`vault.rights.requests.RequestRegistry`);
:class:`SubjectRepository` serves :class:`vault.rights.subject.SubjectService` and
:class:`vault.rights.erasure.ErasureService`: the customer record, its request, what an export reads, and the
crypto-shredding statements of :mod:`vault.rights.shredder`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import case, func, insert, or_, select

from vault.audit.models import AuditEntryRow, AuditSubjectRow
from vault.consent.models import ConsentEventRow, ConsentStateRow
from vault.customers.models import CustomerCohortRow, CustomerRow
from vault.customers.notes import NoteRow
from vault.customers.repository import apply_changes
from vault.policy.statutes import Cohort
from vault.rights import archive, shredder
from vault.rights.deadlines import OPEN
from vault.rights.export import ExportData
from vault.rights.models import FieldHistoryRow, ProvisionRow, RightsRequestRow, StatutoryArchiveRow

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.crypto.envelope import CustomerKey
    from vault.crypto.keyring import Keyring
    from vault.policy.catalogue import FieldCatalogue

_CHUNK = 500


class RequestStore(Protocol):
    """Where the registry keeps requests (the SQL repository below; tests use an in-memory one)."""

    async def customer_exists(self, customer_id: uuid.UUID) -> bool:
        """Whether a customer record (live or a tombstone) has this id."""
        ...

    async def add(self, row: RightsRequestRow) -> None:
        """Insert a new request (flushed, so it is visible to the same transaction)."""
        ...

    async def get(self, request_id: uuid.UUID) -> RightsRequestRow | None:
        """One request, its changes tracked by the transaction."""
        ...

    async def page(self, *, now: datetime, status: str | None, customer_id: uuid.UUID | None, limit: int,
                   offset: int) -> list[RightsRequestRow]:
        """Requests, overdue open ones first, then open ones by due date, then closed ones.

        ``status``: None (all), ``open``, ``overdue`` or one stored status.
        """
        ...


class RequestRepository:
    """:class:`RequestStore` on a SQLAlchemy session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def customer_exists(self, customer_id: uuid.UUID) -> bool:
        """Whether a customer record has this id."""
        return await self._session.get(CustomerRow, customer_id) is not None

    async def add(self, row: RightsRequestRow) -> None:
        """Insert a new request."""
        self._session.add(row)
        await self._session.flush()

    async def get(self, request_id: uuid.UUID) -> RightsRequestRow | None:
        """One request."""
        return await self._session.get(RightsRequestRow, request_id)

    async def page(self, *, now: datetime, status: str | None, customer_id: uuid.UUID | None, limit: int,
                   offset: int) -> list[RightsRequestRow]:
        """Requests, overdue first (see :class:`RequestStore`)."""
        is_open = RightsRequestRow.status.in_(OPEN)
        q = select(RightsRequestRow).order_by(
            case((is_open & (RightsRequestRow.due_at < now), 0), (is_open, 1), else_=2),
            RightsRequestRow.due_at, RightsRequestRow.id).limit(limit).offset(offset)
        if status == "overdue":
            q = q.where(is_open, RightsRequestRow.due_at < now)
        elif status == "open":
            q = q.where(is_open)
        elif status is not None:
            q = q.where(RightsRequestRow.status == status)
        if customer_id is not None:
            q = q.where(RightsRequestRow.customer_id == customer_id)
        return list((await self._session.scalars(q)).all())


class RecordStore(Protocol):
    """The customer record and the request an action answers (shared by the subject and erasure services)."""

    async def customer(self, customer_id: uuid.UUID) -> CustomerRow | None:
        """The customer record (live, deleted or a tombstone), its changes tracked by the transaction."""
        ...

    async def request(self, request_id: uuid.UUID) -> RightsRequestRow | None:
        """One rights request, its changes tracked by the transaction."""
        ...


class SubjectStore(RecordStore, Protocol):
    """What :class:`vault.rights.subject.SubjectService` reads and writes besides the record itself."""

    async def export_data(self, row: CustomerRow) -> ExportData:
        """Everything stored about the customer that the export shows (still sealed)."""
        ...

    async def add_history(self, rows: list[dict[str, Any]]) -> None:
        """Insert rectification history rows (each replaced value sealed under the customer's DEK)."""
        ...

    async def save_changes(self, keyring: Keyring, catalogue: FieldCatalogue, row: CustomerRow, key: CustomerKey,
                           changed: dict[str, str | None], now: datetime) -> None:
        """Reseal changed fields, their blind indexes and flags (:func:`vault.customers.repository.apply_changes`)."""
        ...

    async def status_counts(self) -> dict[str, int]:
        """How many customers are in each status."""
        ...


class ErasureStore(RecordStore, Protocol):
    """What :class:`vault.rights.erasure.ErasureService` reads and writes: the shredder's statements."""

    async def cohorts(self, customer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, set[Cohort]]:
        """The statute cohorts of each customer (recorded ones, and data subjects with requests)."""
        ...

    async def add_archive(self, record: StatutoryArchiveRow) -> None:
        """Insert a statutory archive record."""
        ...

    async def targets(self, customer_ids: Sequence[uuid.UUID], *, action: str = "erase") -> list[shredder.Target]:
        """The customers the action still applies to (:func:`vault.rights.shredder.targets`)."""
        ...

    async def erase(self, customer_ids: Sequence[uuid.UUID], *, now: datetime, request_id: uuid.UUID | None) -> None:
        """Crypto-shred the customers (journal entries already written): :func:`vault.rights.shredder.erase_rows`."""
        ...

    async def pseudonymize(self, keyring: Keyring, catalogue: FieldCatalogue, customer_ids: Sequence[uuid.UUID], *,
                           now: datetime) -> None:
        """Keep generalized quasi-identifiers under a new DEK: :func:`vault.rights.shredder.pseudonymize_rows`."""
        ...

    async def existing(self, customer_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """The ids among ``customer_ids`` with a record (any status)."""
        ...

    async def held(self, customer_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """The ids among ``customer_ids`` whose processing is restricted and that are not erased."""
        ...

    async def in_cohorts(self, customer_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """The ids among ``customer_ids`` with a recorded statute cohort."""
        ...

    async def audit_entry(self, seq: int) -> AuditEntryRow | None:
        """One audit entry (a bulk erasure proposal a second officer approves)."""
        ...

    async def by_ref_digests(self, digests: Sequence[bytes]) -> list[tuple[uuid.UUID, bytes | None, datetime]]:
        """(id, ref digest, created_at) of the customers whose customer_ref digest is one of ``digests``."""
        ...


class SubjectRepository:
    """:class:`SubjectStore` and :class:`ErasureStore` on a SQLAlchemy session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def customer(self, customer_id: uuid.UUID) -> CustomerRow | None:
        """The customer record."""
        return await self._session.get(CustomerRow, customer_id)

    async def request(self, request_id: uuid.UUID) -> RightsRequestRow | None:
        """One rights request."""
        return await self._session.get(RightsRequestRow, request_id)

    # -- subject ------------------------------------------------------------------------------------

    async def export_data(self, row: CustomerRow) -> ExportData:
        """Everything the export shows, in its order (see :class:`vault.rights.export.ExportData`)."""
        session, cid = self._session, row.id
        mine = or_(AuditEntryRow.customer_id == cid,
                   AuditEntryRow.seq.in_(select(AuditSubjectRow.seq).where(AuditSubjectRow.customer_id == cid)))
        return ExportData(
            history=(await session.scalars(select(FieldHistoryRow).where(FieldHistoryRow.customer_id == cid)
                                           .order_by(FieldHistoryRow.changed_at))).all(),
            states=(await session.scalars(select(ConsentStateRow).where(ConsentStateRow.customer_id == cid))).all(),
            events=[dict(m) for m in (await session.execute(
                select(ConsentEventRow.__table__).where(ConsentEventRow.customer_id == cid)
                .order_by(ConsentEventRow.recorded_at, ConsentEventRow.id))).mappings().all()],
            provisions=(await session.scalars(select(ProvisionRow).where(ProvisionRow.customer_id == cid)
                                              .order_by(ProvisionRow.provided_at, ProvisionRow.id))).all(),
            access=[(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]) for r in (await session.execute(
                select(AuditEntryRow.seq, AuditEntryRow.ts, AuditEntryRow.principal_id, AuditEntryRow.principal_name,
                       AuditEntryRow.role, AuditEntryRow.action, AuditEntryRow.purpose, AuditEntryRow.outcome,
                       AuditEntryRow.fields, AuditEntryRow.subject_count)
                .where(mine).order_by(AuditEntryRow.seq))).all()],
            notes=(await session.scalars(select(NoteRow).where(NoteRow.customer_id == cid).order_by(NoteRow.id))).all()
            if row.wrapped_dek is not None else (),
            archive=await archive.records_of(session, cid),
            requests=(await session.scalars(select(RightsRequestRow).where(RightsRequestRow.customer_id == cid)
                                            .order_by(RightsRequestRow.received_at))).all())

    async def add_history(self, rows: list[dict[str, Any]]) -> None:
        """Insert rectification history rows."""
        await self._session.execute(insert(FieldHistoryRow), rows)

    async def save_changes(self, keyring: Keyring, catalogue: FieldCatalogue, row: CustomerRow, key: CustomerKey,
                           changed: dict[str, str | None], now: datetime) -> None:
        """Reseal changed fields (see :func:`vault.customers.repository.apply_changes`)."""
        await apply_changes(self._session, keyring, catalogue, row, key, changed, now)

    async def status_counts(self) -> dict[str, int]:
        """How many customers are in each status."""
        rows = (await self._session.execute(
            select(CustomerRow.status, func.count()).group_by(CustomerRow.status))).all()
        return {str(s): int(n) for s, n in rows}

    # -- erasure ------------------------------------------------------------------------------------

    async def cohorts(self, customer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, set[Cohort]]:
        """Recorded statute cohorts, and data subjects with requests."""
        session, ids = self._session, list(customer_ids)
        out: dict[uuid.UUID, set[Cohort]] = {}
        for cid, cohort in (await session.execute(select(CustomerCohortRow.customer_id, CustomerCohortRow.cohort)
                                                  .where(CustomerCohortRow.customer_id.in_(ids)))).all():
            out.setdefault(cid, set()).add(Cohort(cohort))
        for cid in (await session.scalars(select(RightsRequestRow.customer_id)
                                          .where(RightsRequestRow.customer_id.in_(ids)))).all():
            out.setdefault(cid, set()).add(Cohort.DATA_SUBJECTS_WITH_REQUESTS)
        return out

    async def add_archive(self, record: StatutoryArchiveRow) -> None:
        """Insert a statutory archive record."""
        self._session.add(record)
        await self._session.flush()

    async def targets(self, customer_ids: Sequence[uuid.UUID], *, action: str = "erase") -> list[shredder.Target]:
        """See :func:`vault.rights.shredder.targets`."""
        return await shredder.targets(self._session, customer_ids, action=action)

    async def erase(self, customer_ids: Sequence[uuid.UUID], *, now: datetime, request_id: uuid.UUID | None) -> None:
        """See :func:`vault.rights.shredder.erase_rows`."""
        await shredder.erase_rows(self._session, customer_ids, now=now, request_id=request_id)

    async def pseudonymize(self, keyring: Keyring, catalogue: FieldCatalogue, customer_ids: Sequence[uuid.UUID], *,
                           now: datetime) -> None:
        """See :func:`vault.rights.shredder.pseudonymize_rows`."""
        await shredder.pseudonymize_rows(self._session, keyring, catalogue, customer_ids, now=now)

    async def _ids(self, customer_ids: Sequence[uuid.UUID], column: Any, *where: Any) -> set[uuid.UUID]:
        ids = list(customer_ids)
        out: set[uuid.UUID] = set()
        for i in range(0, len(ids), _CHUNK):
            out.update((await self._session.scalars(select(column).where(
                column.in_(ids[i:i + _CHUNK]), *where))).all())
        return out

    async def existing(self, customer_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """The ids with a record."""
        return await self._ids(customer_ids, CustomerRow.id)

    async def held(self, customer_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Restricted (GDPR 18(1)(c), 17(3)(e)) and not erased."""
        return await self._ids(customer_ids, CustomerRow.id, CustomerRow.restricted_at.is_not(None),
                               CustomerRow.status != shredder.ERASED)

    async def in_cohorts(self, customer_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """The ids with a recorded statute cohort."""
        return await self._ids(customer_ids, CustomerCohortRow.customer_id)

    async def audit_entry(self, seq: int) -> AuditEntryRow | None:
        """One audit entry."""
        return await self._session.get(AuditEntryRow, seq)

    async def by_ref_digests(self, digests: Sequence[bytes]) -> list[tuple[uuid.UUID, bytes | None, datetime]]:
        """Customers by customer_ref digest."""
        rows = (await self._session.execute(
            select(CustomerRow.id, CustomerRow.ref_digest, CustomerRow.created_at)
            .where(CustomerRow.ref_digest.in_(list(digests))))).all()
        return [(r[0], r[1], r[2]) for r in rows]
