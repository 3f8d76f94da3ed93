"""In-memory stores of the analysts' services (projects, ε ledger, extract jobs, snapshots), and a world of them.

Real policies, guard and crypto (tests/unit/fakes.py); only the storage and the audit log are fakes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.unit.fakes import World, keyring, world
from vault.crypto.keyring import Keyring
from vault.privacy.dp import StatsDeps, StatsService
from vault.privacy.errors import ProjectExistsError
from vault.privacy.jobs import ExtractJobService
from vault.privacy.models import EpsilonSpendRow, ExtractJobRow, ProjectMemberRow, ProjectRow, StatsSnapshotRow
from vault.privacy.projects import ProjectGuard, ProjectService

DAY = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
#: Stands in for the session: an entry recorded "with the change" goes to ``FakeAudit.written``.
SESSION: Any = object()


class FakeProjects:
    """Projects, members and the ε ledger in dictionaries; customers as (id, status) pairs."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, ProjectRow] = {}
        self.members_of: dict[uuid.UUID, list[uuid.UUID]] = {}
        self.spent: list[EpsilonSpendRow] = []
        self.customers: list[tuple[uuid.UUID, str]] = []

    async def get(self, project_id: uuid.UUID) -> ProjectRow | None:
        return self.rows.get(project_id)

    async def by_name(self, name: str) -> ProjectRow | None:
        return next((r for r in self.rows.values() if r.name == name), None)

    async def key_version(self, name: str) -> int | None:
        row = await self.by_name(name)
        return None if row is None else row.key_version

    async def listed(self, member: uuid.UUID | None) -> list[ProjectRow]:
        rows = [r for r in self.rows.values() if member is None or member in self.members_of[r.id]]
        return sorted(rows, key=lambda r: r.name)

    async def members(self, project_id: uuid.UUID) -> list[uuid.UUID]:
        return list(self.members_of.get(project_id, []))

    async def is_member(self, project_id: uuid.UUID, principal_id: uuid.UUID) -> bool:
        return principal_id in self.members_of.get(project_id, [])

    async def add(self, row: ProjectRow, members: Sequence[ProjectMemberRow]) -> None:
        if await self.by_name(row.name) is not None:
            raise ProjectExistsError(f"an analysis project named {row.name!r} exists already")
        self.rows[row.id] = row
        self.members_of[row.id] = [m.principal_id for m in members]

    async def add_member(self, member: ProjectMemberRow) -> bool:
        ids = self.members_of[member.project_id]
        if member.principal_id in ids:
            return False
        ids.append(member.principal_id)
        return True

    async def remove_member(self, project_id: uuid.UUID, principal_id: uuid.UUID) -> bool:
        ids = self.members_of[project_id]
        if principal_id not in ids:
            return False
        ids.remove(principal_id)
        return True

    async def save(self, row: ProjectRow) -> None:
        assert self.rows[row.id] is row

    async def charge(self, project_id: uuid.UUID, epsilon: float) -> float | None:
        row = self.rows[project_id]
        if row.epsilon_spent + epsilon > row.epsilon_budget + 1e-9:
            return None
        row.epsilon_spent += epsilon
        return row.epsilon_budget - row.epsilon_spent

    async def add_spend(self, row: EpsilonSpendRow) -> None:
        self.spent.append(row)

    async def ledger(self, project_id: uuid.UUID, limit: int) -> list[EpsilonSpendRow]:
        mine = [r for r in self.spent if r.project_id == project_id]
        return sorted(mine, key=lambda r: r.spent_at, reverse=True)[:limit]

    async def customer_page(self, after: uuid.UUID | None, limit: int) -> list[tuple[uuid.UUID, str]]:
        ordered = sorted(self.customers)
        return [c for c in ordered if after is None or c[0] > after][:limit]


class FakeJobs:
    """Extract jobs in a dictionary; project names from the project fakes."""

    def __init__(self, projects: FakeProjects) -> None:
        self.rows: dict[uuid.UUID, ExtractJobRow] = {}
        self._projects = projects

    async def add(self, row: ExtractJobRow) -> None:
        self.rows[row.id] = row

    async def set(self, job_id: uuid.UUID, values: dict[str, Any]) -> None:
        row = self.rows.get(job_id)
        if row is not None:
            for k, v in values.items():
                setattr(row, k, v)

    async def with_project(self, job_id: uuid.UUID) -> tuple[ExtractJobRow, str] | None:
        row = self.rows.get(job_id)
        return None if row is None else (row, self._projects.rows[row.project_id].name)

    async def page(self, *, project_id: uuid.UUID | None, member: uuid.UUID | None, limit: int,
                   offset: int) -> list[tuple[ExtractJobRow, str]]:
        rows = [r for r in self.rows.values() if project_id in (None, r.project_id)
                and (member is None or member in self._projects.members_of[r.project_id])]
        rows.sort(key=lambda r: r.created_at, reverse=True)
        return [(r, self._projects.rows[r.project_id].name) for r in rows[offset:offset + limit]]

    async def expired(self, now: datetime) -> list[tuple[uuid.UUID, str | None]]:
        return [(r.id, r.file_name) for r in self.rows.values()
                if r.status == "done" and r.expires_at is not None and r.expires_at <= now]


class FakeSnapshots:
    """Snapshots in a list, newest last."""

    def __init__(self) -> None:
        self.rows: list[StatsSnapshotRow] = []
        self.reads = 0

    async def add(self, row: StatsSnapshotRow) -> None:
        self.rows.append(row)

    async def newest_id(self) -> uuid.UUID | None:
        self.reads += 1
        return self.rows[-1].id if self.rows else None

    async def get(self, snapshot_id: uuid.UUID) -> StatsSnapshotRow | None:
        return next((r for r in self.rows if r.id == snapshot_id), None)

    async def spend(self, snapshot_id: uuid.UUID) -> str | None:
        row = await self.get(snapshot_id)
        return None if row is None else row.spend


@dataclass
class Analysts:
    """The analysts' services on fake stores, sharing one clock and one audit log."""

    w: World = field(default_factory=world)
    keyring: Keyring = field(default_factory=keyring)
    projects_store: FakeProjects = field(default_factory=FakeProjects)
    snapshots: FakeSnapshots = field(default_factory=FakeSnapshots)
    now: datetime = DAY

    def __post_init__(self) -> None:
        self.jobs_store = FakeJobs(self.projects_store)
        self.guard = ProjectGuard(self.w.deps.guard, self.w.audit)  # type: ignore[arg-type]
        self.stats_deps = StatsDeps(self.guard, self.keyring, self.w.deps.purposes, "sqlite://", clock=self.clock)

    def clock(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def projects(self) -> ProjectService:
        return ProjectService(SESSION, self.guard, self.keyring.pseudonyms, self.clock,
                              repo=self.projects_store)

    def stats(self) -> StatsService:
        return StatsService(SESSION, self.stats_deps, self.projects(), repo=self.snapshots)

    def jobs(self) -> ExtractJobService:
        return ExtractJobService(SESSION, self.guard, self.projects(), self.w.deps.catalogue,
                                 self.w.deps.purposes, self.clock, repo=self.jobs_store)
