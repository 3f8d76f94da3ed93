"""In-memory fakes for the subject and erasure services: customer records, requests, cohorts, the statutory
archive, audit entries and the erasure journal in plain collections, with the real guard, policies and crypto.

Shredding here only does to the row what :func:`vault.rights.shredder.erase_rows` does to its columns; the
statements themselves and the SQLite WAL scrub are tested against real databases (tests/integration).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.unit.fakes import FakeAudit, FakeLedger, keyring, policies
from vault.access.guard import Guard
from vault.access.lawful_basis import LawfulBasisCheck
from vault.audit.entry import AuditEvent, subjects_digest
from vault.audit.models import AuditEntryRow
from vault.audit.subjects import SubjectList
from vault.crypto.envelope import CustomerKey
from vault.crypto.keyring import Keyring
from vault.customers import records
from vault.customers.gate import restriction_error
from vault.customers.models import CustomerRow
from vault.policy.catalogue import FieldCatalogue
from vault.policy.collection import CollectionPolicy
from vault.policy.statutes import Cohort
from vault.rights import shredder
from vault.rights.deps import RightsDeps
from vault.rights.errors import JournalError
from vault.rights.export import ExportData
from vault.rights.journal import JournalEntry
from vault.rights.models import FieldHistoryRow, RightsRequestRow, StatutoryArchiveRow

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeRecords:
    """:class:`vault.rights.repository.SubjectStore` and ``ErasureStore`` over dictionaries."""

    def __init__(self) -> None:
        self.customers: dict[uuid.UUID, CustomerRow] = {}
        self.requests: dict[uuid.UUID, RightsRequestRow] = {}
        self.cohort_of: dict[uuid.UUID, set[Cohort]] = {}
        self.archive: list[StatutoryArchiveRow] = []
        self.history: list[dict[str, Any]] = []
        self.entries: dict[int, AuditEntryRow] = {}

    async def customer(self, customer_id: uuid.UUID) -> CustomerRow | None:
        return self.customers.get(customer_id)

    async def request(self, request_id: uuid.UUID) -> RightsRequestRow | None:
        return self.requests.get(request_id)

    async def export_data(self, row: CustomerRow) -> ExportData:
        return ExportData(
            history=[FieldHistoryRow(**h) for h in self.history if h["customer_id"] == row.id],
            archive=[a for a in self.archive if a.customer_id == row.id],
            requests=sorted((r for r in self.requests.values() if r.customer_id == row.id),
                            key=lambda r: r.received_at))

    async def add_history(self, rows: list[dict[str, Any]]) -> None:
        self.history.extend(rows)

    async def save_changes(self, keyring: Keyring, catalogue: FieldCatalogue, row: CustomerRow, key: CustomerKey,
                           changed: dict[str, str | None], now: datetime) -> None:
        del keyring, catalogue
        row.sealed = records.reseal(key, row.sealed, changed)
        row.updated_at = now
        row.row_version += 1

    async def status_counts(self) -> dict[str, int]:
        return dict(Counter(r.status for r in self.customers.values()))

    async def cohorts(self, customer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, set[Cohort]]:
        out = {c: set(self.cohort_of[c]) for c in customer_ids if c in self.cohort_of}
        for r in self.requests.values():
            if r.customer_id in customer_ids:
                out.setdefault(r.customer_id, set()).add(Cohort.DATA_SUBJECTS_WITH_REQUESTS)
        return out

    async def add_archive(self, record: StatutoryArchiveRow) -> None:
        self.archive.append(record)

    async def targets(self, customer_ids: Sequence[uuid.UUID], *, action: str = "erase") -> list[shredder.Target]:
        rows = [self.customers[c] for c in dict.fromkeys(customer_ids) if c in self.customers]
        pending = [r for r in rows if (r.status != shredder.ERASED if action == "erase" else r.erased_at is None)]
        return [shredder.Target(r.id, r.ref_digest, r.status) for r in pending]

    async def erase(self, customer_ids: Sequence[uuid.UUID], *, now: datetime, request_id: uuid.UUID | None) -> None:
        for c in customer_ids:
            row = self.customers[c]
            row.wrapped_dek = row.kek_version = row.ref_digest = None
            row.sealed, row.field_meta, row.status = shredder.EMPTY_SEALED, {}, shredder.ERASED
            row.erased_at = row.updated_at = now
            row.erasure_request_id, row.restricted_at, row.restriction_request_id = request_id, None, None
            row.row_version += 1
        self.history = [h for h in self.history if h["customer_id"] not in set(customer_ids)]

    async def pseudonymize(self, keyring: Keyring, catalogue: FieldCatalogue, customer_ids: Sequence[uuid.UUID], *,
                           now: datetime) -> None:
        del keyring, catalogue
        for c in customer_ids:
            row = self.customers[c]
            row.ref_digest, row.status, row.erased_at, row.updated_at = None, shredder.PSEUDONYMIZED, now, now

    async def existing(self, customer_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        return {c for c in customer_ids if c in self.customers}

    async def held(self, customer_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        return {c for c in customer_ids if c in self.customers and self.customers[c].restricted_at is not None
                and self.customers[c].status != shredder.ERASED}

    async def in_cohorts(self, customer_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        return {c for c in customer_ids if self.cohort_of.get(c)}

    async def audit_entry(self, seq: int) -> AuditEntryRow | None:
        return self.entries.get(seq)

    async def by_ref_digests(self, digests: Sequence[bytes]) -> list[tuple[uuid.UUID, bytes | None, datetime]]:
        return [(r.id, r.ref_digest, r.created_at) for r in self.customers.values() if r.ref_digest in digests]


@dataclass
class FakeJournal:
    """The erasure journal as a list; ``broken`` makes every append fail as an unwritable file does."""

    written: list[JournalEntry] = field(default_factory=list)
    broken: bool = False

    def append(self, entries: Sequence[JournalEntry]) -> None:
        if self.broken:
            raise JournalError("erasure journal cannot be written (test); nothing erased")
        self.written.extend(entries)

    def entries(self) -> Iterator[JournalEntry]:
        return iter(list(self.written))


@dataclass
class BulkAudit(FakeAudit):
    """Also keeps bulk entries as the audit table would (the second approver's check reads them back)."""

    store: FakeRecords = field(default_factory=FakeRecords)
    clock: list[datetime] = field(default_factory=lambda: [NOW])

    async def record_bulk_durable(self, event: AuditEvent, subjects: SubjectList) -> int:
        seq = await self.record_durable(event)
        self.store.entries[seq] = AuditEntryRow(
            seq=seq, ts=self.clock[0], principal_id=event.actor.principal_id, principal_name=event.actor.name,
            role=event.actor.role, action=event.action, purpose=event.purpose, outcome=str(event.outcome),
            subject_count=len(subjects), subjects_digest=subjects_digest(subjects), detail=event.detail)
        return seq


@dataclass
class FakeCohorts:
    """Recorded cohort membership, read from the fake store (the rectify coverage check)."""

    store: FakeRecords

    async def members(self, session: object, cohort: Cohort, customer_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        del session
        if cohort is Cohort.ALL_CUSTOMERS:
            return set(customer_ids)
        return {c for c in customer_ids if cohort in self.store.cohort_of.get(c, set())}

    async def record(self, session: object, customer_ids: Sequence[uuid.UUID], cohort: Cohort, **kw: Any) -> None:
        del session, kw
        for c in customer_ids:
            self.store.cohort_of.setdefault(c, set()).add(cohort)


@dataclass
class Subjects:
    """A rights world: deps with the fakes, the store, the audit and the journal; ``now`` moves the clock."""

    deps: RightsDeps
    store: FakeRecords
    audit: BulkAudit
    journal: FakeJournal
    clock: list[datetime]

    def customer(self, **values: str) -> CustomerRow:
        """A live customer sealed under a fresh DEK (real crypto)."""
        sealed = records.seal_new(self.deps.keyring, self.deps.catalogue,
                                  {"customer_ref": f"C-{uuid.uuid4().hex[:8]}", **values})
        row = CustomerRow(**sealed.row)
        row.created_at = row.updated_at = self.clock[0] - timedelta(days=30)
        self.store.customers[row.id] = row
        return row

    def request(self, kind: str, customer_id: uuid.UUID) -> RightsRequestRow:
        """An open request of ``kind`` about the customer."""
        now = self.clock[0]
        row = RightsRequestRow(id=uuid.uuid4(), kind=kind, customer_id=customer_id, jurisdiction="gdpr",
                               received_at=now - timedelta(days=1), due_at=now + timedelta(days=29), extended=False,
                               status="received", created_at=now, updated_at=now)
        self.store.requests[row.id] = row
        return row

    def fields(self, row: CustomerRow) -> dict[str, str]:
        """The customer's fields, decrypted."""
        return records.open_fields(records.customer_key(self.deps.keyring, row), row.sealed)


def subjects(*, bulk_approval_over: int = 100) -> Subjects:
    """Real policies (statutes included), guard and crypto; fake storage, audit, journal and cohorts."""
    p = policies()
    store = FakeRecords()
    clock = [NOW]
    audit = BulkAudit(store=store, clock=clock)
    guard = Guard(p.access, p.purposes, LawfulBasisCheck(FakeLedger()), audit, restriction_error)  # type: ignore[arg-type]
    journal = FakeJournal()
    deps = RightsDeps(
        None, keyring(), p.catalogue, p.purposes, guard, audit, journal,  # type: ignore[arg-type]
        clock=lambda: clock[0], bulk_approval_over=bulk_approval_over,
        collection=CollectionPolicy(p.purposes, p.catalogue, p.statutes), cohorts=FakeCohorts(store))
    return Subjects(deps, store, audit, journal, clock)
