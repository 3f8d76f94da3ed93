"""An in-memory segment store and the collaborators of the segment services: real policies, guard and
pseudonyms; versions, snapshots and the feature table held in memory."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from tests.unit.fakes import FakeAudit, FakeLedger, keyring, policies
from vault.access.guard import Guard
from vault.access.lawful_basis import LawfulBasisCheck
from vault.audit.entry import AuditEvent
from vault.audit.subjects import SubjectList
from vault.customers.gate import restriction_error
from vault.policy.purposes import Purpose
from vault.segments.base import SegmentDeps
from vault.segments.errors import SegmentStateError
from vault.segments.features import FeatureEngine, FeatureTable
from vault.segments.models import SegmentEventRow, SegmentVersionRow, SnapshotRow

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class SegmentAudit(FakeAudit):
    """FakeAudit that also takes bulk entries (the subjects kept on the event)."""

    async def record_bulk_durable(self, event: AuditEvent, subjects: SubjectList) -> int:
        return await self.record_durable(replace(event, subjects=tuple(subjects), subject_count=len(subjects)))


class FakeSegments:
    """Versions, events, snapshots and members in dictionaries; the feature table is whatever ``frame`` holds."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, SegmentVersionRow] = {}
        self.event_rows: list[SegmentEventRow] = []
        self.snapshot_rows: dict[uuid.UUID, SnapshotRow] = {}
        self.member_rows: dict[uuid.UUID, dict[uuid.UUID, tuple[str, str]]] = {}
        self.labels: list[tuple[uuid.UUID, str, str]] = []  # current blocking labels: (customer, label, department)
        self.analytics: set[uuid.UUID] = set()  # customers with a current analytics basis, not restricted
        self.categories: dict[uuid.UUID, int] = {}
        self.frame = pl.DataFrame()
        self.computed: list[tuple[date, frozenset[str]]] = []
        self.race = False  # add_version loses a concurrent create

    def bind(self, session: object) -> FakeSegments:
        del session
        return self

    async def latest_version(self, name: str) -> int | None:
        return max((r.version for r in self.rows.values() if r.name == name), default=None)

    async def add_version(self, row: SegmentVersionRow) -> None:
        if self.race or any((r.name, r.version) == (row.name, row.version) for r in self.rows.values()):
            raise SegmentStateError(f"{row.name}@{row.version} was created at the same time; try again")
        self.rows[row.id] = row

    async def add_event(self, row: SegmentEventRow) -> None:
        self.event_rows.append(row)

    async def version(self, name: str, version: int) -> SegmentVersionRow | None:
        return next((r for r in self.rows.values() if (r.name, r.version) == (name, version)), None)

    async def version_by_id(self, version_id: uuid.UUID) -> SegmentVersionRow | None:
        return self.rows.get(version_id)

    async def versions(self, name: str | None) -> list[SegmentVersionRow]:
        rows = [r for r in self.rows.values() if name in (None, r.name)]
        return sorted(rows, key=lambda r: (r.name, -r.version))

    async def events(self, version_id: uuid.UUID) -> list[SegmentEventRow]:
        return sorted((e for e in self.event_rows if e.version_id == version_id), key=lambda e: (e.at, e.id))

    async def set_status(self, row: SegmentVersionRow, status: str, at: datetime) -> None:
        row.status, row.status_at = status, at

    async def add_snapshot(self, row: SnapshotRow, members: Sequence[Mapping[str, Any]]) -> None:
        self.snapshot_rows[row.id] = row
        self.member_rows[row.id] = {m["customer_id"]: (m["tier"], m["quadrant"]) for m in members}

    async def snapshots(self, version_id: uuid.UUID) -> list[SnapshotRow]:
        rows = [s for s in self.snapshot_rows.values() if s.version_id == version_id]
        return sorted(rows, key=lambda s: s.created_at, reverse=True)

    async def latest_snapshot(self, version_id: uuid.UUID, as_of: date | None) -> SnapshotRow | None:
        rows = [s for s in self.snapshot_rows.values() if s.version_id == version_id and as_of in (None, s.as_of)]
        return max(rows, key=lambda s: (s.as_of, s.created_at), default=None)

    async def snapshot(self, snapshot_id: uuid.UUID) -> SnapshotRow | None:
        return self.snapshot_rows.get(snapshot_id)

    async def members(self, snapshot_id: uuid.UUID) -> dict[uuid.UUID, tuple[str, str]]:
        return dict(self.member_rows.get(snapshot_id, {}))

    async def blocked_members(self, snapshot_id: uuid.UUID, owner_department: str) -> list[tuple[uuid.UUID, str, str]]:
        members = self.member_rows.get(snapshot_id, {})
        return [(c, label, d) for c, label, d in self.labels if c in members and d != owner_department]

    async def analytics_members(self, snapshot_id: uuid.UUID, analytics: Purpose, now: datetime) -> list[uuid.UUID]:
        del analytics, now
        return sorted(c for c in self.member_rows.get(snapshot_id, {}) if c in self.analytics)

    async def category_counts(self, day: int) -> list[tuple[uuid.UUID, int]]:
        del day
        return sorted(self.categories.items())

    async def features(self, engine: FeatureEngine, as_of: date, groups: Iterable[str]) -> FeatureTable:
        del engine
        self.computed.append((as_of, frozenset(groups)))
        return FeatureTable(as_of, self.frame.sort("customer_id"), frozenset(groups))


@dataclass
class SegmentWorld:
    """The segment services' collaborators, storage in memory."""

    deps: SegmentDeps
    audit: SegmentAudit
    store: FakeSegments
    now: list[datetime] = field(default_factory=lambda: [NOW])

    def tick(self, minutes: int = 1) -> None:
        self.now[0] += timedelta(minutes=minutes)


def segment_world() -> SegmentWorld:
    """Real policies, guard, keyring and feature catalogue; fake storage and audit."""
    p = policies()
    audit, store = SegmentAudit(), FakeSegments()
    guard = Guard(p.access, p.purposes, LawfulBasisCheck(FakeLedger()), audit,  # type: ignore[arg-type]
                  restriction_error)
    now = [NOW]

    def clock() -> datetime:  # a second passes between two readings, so events have an order
        now[0] += timedelta(seconds=1)
        return now[0]

    deps = SegmentDeps(None, keyring(), p.purposes, guard, audit,  # type: ignore[arg-type]
                       clock=clock, store=store.bind)
    return SegmentWorld(deps, audit, store, now)


def customers(n: int) -> list[uuid.UUID]:
    """``n`` customer ids in a stable order."""
    return [uuid.UUID(int=i + 1) for i in range(n)]


def feature_frame(rows: Sequence[tuple[uuid.UUID, str, str, int]]) -> pl.DataFrame:
    """A feature table's frame: (customer, tier, quadrant, frequency) per customer."""
    return pl.DataFrame({
        "customer_id": [c.hex for c, _, _, _ in rows], "tier": [t for _, t, _, _ in rows],
        "quadrant": [q for _, _, q, _ in rows], "frequency": [f for _, _, _, f in rows],
        "monetary_krw": [f * 10_000 for _, _, _, f in rows]})
