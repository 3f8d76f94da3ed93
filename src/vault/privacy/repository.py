"""The SQL of the analysts' use cases: projects and their ε ledger, extract jobs, DP statistics snapshots.

Each store is a Protocol (the services depend on it; unit tests use in-memory ones) followed by its
repository on a SQLAlchemy session. The repositories flush, never commit: whoever opened the session
(:mod:`vault.privacy.runner`, :mod:`vault.privacy.job_runner`) commits. Integrity errors are
translated here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from vault.customers.models import CustomerRow
from vault.db.bulk import BulkInsert, BulkValues, Column, insert_rows
from vault.privacy.errors import ProjectExistsError
from vault.privacy.models import EpsilonSpendRow, ExtractJobRow, ProjectMemberRow, ProjectRow, StatsSnapshotRow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "JobRepository",
    "JobStore",
    "ProjectRepository",
    "ProjectStore",
    "SnapshotRepository",
    "SnapshotStore",
]


class ProjectStore(Protocol):
    """Analysis projects, their members and ε ledger."""

    async def get(self, project_id: uuid.UUID) -> ProjectRow | None:
        """One project, its changes tracked by the transaction."""
        ...

    async def by_name(self, name: str) -> ProjectRow | None:
        """The project named ``name``."""
        ...

    async def key_version(self, name: str) -> int | None:
        """The pseudonym key version of the project named ``name`` (None: no such project)."""
        ...

    async def listed(self, member: uuid.UUID | None) -> list[ProjectRow]:
        """Every project by name, or (``member`` given) those the principal is a member of."""
        ...

    async def members(self, project_id: uuid.UUID) -> list[uuid.UUID]:
        """The project's members' principal ids, in the order they were added."""
        ...

    async def is_member(self, project_id: uuid.UUID, principal_id: uuid.UUID) -> bool:
        """Whether the principal is a member of the project."""
        ...

    async def add(self, row: ProjectRow, members: Sequence[ProjectMemberRow]) -> None:
        """Insert a new project and its first members.

        Raises:
            ProjectExistsError: the name is taken.
        """
        ...

    async def add_member(self, member: ProjectMemberRow) -> bool:
        """Add a member unless already one; whether it was added."""
        ...

    async def remove_member(self, project_id: uuid.UUID, principal_id: uuid.UUID) -> bool:
        """Remove a member; whether there was one."""
        ...

    async def save(self, row: ProjectRow) -> None:
        """Write the changes made to ``row`` (flushed)."""
        ...

    async def charge(self, project_id: uuid.UUID, epsilon: float) -> float | None:
        """Add ``epsilon`` to what the project spent if the budget allows: what is left after, or None.

        One conditional UPDATE, so concurrent charges in any number of processes never overspend.
        """
        ...

    async def add_spend(self, row: EpsilonSpendRow) -> None:
        """Record one charge in the ε ledger."""
        ...

    async def ledger(self, project_id: uuid.UUID, limit: int) -> list[EpsilonSpendRow]:
        """The project's most recent charges, newest first."""
        ...

    async def customer_page(self, after: uuid.UUID | None, limit: int) -> list[tuple[uuid.UUID, str]]:
        """Customer ids and statuses in id order after ``after`` (ids only; nothing decrypted)."""
        ...


_NEW_MEMBER = BulkInsert("analysis_project_members", (
    Column("project_id", "uuid"), Column("principal_id", "uuid"), Column("added_by", "text"),
    Column("added_at", "timestamptz")), conflict="project_id, principal_id")


class ProjectRepository:
    """:class:`ProjectStore` on a SQLAlchemy session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, project_id: uuid.UUID) -> ProjectRow | None:
        """One project."""
        return await self._session.get(ProjectRow, project_id)

    async def by_name(self, name: str) -> ProjectRow | None:
        """The project named ``name``."""
        return (await self._session.scalars(select(ProjectRow).where(ProjectRow.name == name))).first()

    async def key_version(self, name: str) -> int | None:
        """Only the key version column."""
        version = await self._session.scalar(select(ProjectRow.key_version).where(ProjectRow.name == name))
        return None if version is None else int(version)

    async def listed(self, member: uuid.UUID | None) -> list[ProjectRow]:
        """Every project, or a member's projects, by name."""
        q = select(ProjectRow).order_by(ProjectRow.name)
        if member is not None:
            q = q.join(ProjectMemberRow, ProjectMemberRow.project_id == ProjectRow.id).where(
                ProjectMemberRow.principal_id == member)
        return list((await self._session.scalars(q)).all())

    async def members(self, project_id: uuid.UUID) -> list[uuid.UUID]:
        """Members in the order they were added."""
        return list((await self._session.scalars(select(ProjectMemberRow.principal_id).where(
            ProjectMemberRow.project_id == project_id).order_by(ProjectMemberRow.added_at))).all())

    async def is_member(self, project_id: uuid.UUID, principal_id: uuid.UUID) -> bool:
        """Whether the principal is a member."""
        return await self._session.get(ProjectMemberRow, (project_id, principal_id)) is not None

    async def add(self, row: ProjectRow, members: Sequence[ProjectMemberRow]) -> None:
        """Insert the project, then its members (a taken name is :class:`ProjectExistsError`)."""
        try:
            self._session.add(row)
            await self._session.flush()
            self._session.add_all(members)
            await self._session.flush()
        except IntegrityError:
            raise ProjectExistsError(f"an analysis project named {row.name!r} exists already") from None

    async def add_member(self, member: ProjectMemberRow) -> bool:
        """Add a member unless already one (``ON CONFLICT DO NOTHING``: two managers adding the same analyst
        at once both succeed, where a look-up first let the second fail on the primary key)."""
        conn = await self._session.connection()
        to = BulkValues(conn.dialect.name)
        return await insert_rows(conn, _NEW_MEMBER, [(to.uuid(member.project_id), to.uuid(member.principal_id),
                                                      member.added_by, to.when(member.added_at))]) == 1

    async def remove_member(self, project_id: uuid.UUID, principal_id: uuid.UUID) -> bool:
        """Remove a member."""
        member = await self._session.get(ProjectMemberRow, (project_id, principal_id))
        if member is None:
            return False
        await self._session.delete(member)
        await self._session.flush()
        return True

    async def save(self, row: ProjectRow) -> None:
        """Flush the row's changes."""
        del row
        await self._session.flush()

    async def charge(self, project_id: uuid.UUID, epsilon: float) -> float | None:
        """The conditional UPDATE (see :class:`ProjectStore`)."""
        done = await self._session.execute(
            update(ProjectRow).where(ProjectRow.id == project_id,
                                     ProjectRow.epsilon_spent + epsilon <= ProjectRow.epsilon_budget + 1e-9)
            .values(epsilon_spent=ProjectRow.epsilon_spent + epsilon).returning(
                ProjectRow.epsilon_budget - ProjectRow.epsilon_spent))
        left = done.scalar()
        return None if left is None else float(left)

    async def add_spend(self, row: EpsilonSpendRow) -> None:
        """Add the ledger row (written with the transaction)."""
        self._session.add(row)

    async def ledger(self, project_id: uuid.UUID, limit: int) -> list[EpsilonSpendRow]:
        """Newest charges first."""
        return list((await self._session.scalars(select(EpsilonSpendRow).where(
            EpsilonSpendRow.project_id == project_id).order_by(EpsilonSpendRow.spent_at.desc()).limit(limit))).all())

    async def customer_page(self, after: uuid.UUID | None, limit: int) -> list[tuple[uuid.UUID, str]]:
        """One keyset page of customer ids and statuses."""
        q = select(CustomerRow.id, CustomerRow.status).order_by(CustomerRow.id).limit(limit)
        if after is not None:
            q = q.where(CustomerRow.id > after)
        return [(cid, status) for cid, status in (await self._session.execute(q)).all()]


class JobStore(Protocol):
    """Extract jobs (the rows are the only state: any process answers for any job)."""

    async def add(self, row: ExtractJobRow) -> None:
        """Insert a new job (flushed)."""
        ...

    async def set(self, job_id: uuid.UUID, values: dict[str, Any]) -> None:
        """Update the job's columns named in ``values``."""
        ...

    async def with_project(self, job_id: uuid.UUID) -> tuple[ExtractJobRow, str] | None:
        """The job and its project's name."""
        ...

    async def page(self, *, project_id: uuid.UUID | None, member: uuid.UUID | None, limit: int,
                   offset: int) -> list[tuple[ExtractJobRow, str]]:
        """Jobs newest first with their projects' names: of one project, and (``member``) of the member's projects."""
        ...

    async def expired(self, now: datetime) -> list[tuple[uuid.UUID, str | None]]:
        """Done jobs whose files expire by ``now``: ids and file names."""
        ...


class JobRepository:
    """:class:`JobStore` on a SQLAlchemy session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: ExtractJobRow) -> None:
        """Insert the job."""
        self._session.add(row)
        await self._session.flush()

    async def set(self, job_id: uuid.UUID, values: dict[str, Any]) -> None:
        """One UPDATE."""
        await self._session.execute(update(ExtractJobRow).where(ExtractJobRow.id == job_id).values(**values))

    async def with_project(self, job_id: uuid.UUID) -> tuple[ExtractJobRow, str] | None:
        """The job joined to its project's name."""
        found = (await self._session.execute(select(ExtractJobRow, ProjectRow.name).join(
            ProjectRow, ProjectRow.id == ExtractJobRow.project_id).where(ExtractJobRow.id == job_id))).first()
        return None if found is None else (found[0], found[1])

    async def page(self, *, project_id: uuid.UUID | None, member: uuid.UUID | None, limit: int,
                   offset: int) -> list[tuple[ExtractJobRow, str]]:
        """Newest first (see :class:`JobStore`)."""
        q = (select(ExtractJobRow, ProjectRow.name).join(ProjectRow, ProjectRow.id == ExtractJobRow.project_id)
             .order_by(ExtractJobRow.created_at.desc()).limit(limit).offset(offset))
        if project_id is not None:
            q = q.where(ExtractJobRow.project_id == project_id)
        if member is not None:
            q = q.join(ProjectMemberRow, ProjectMemberRow.project_id == ExtractJobRow.project_id).where(
                ProjectMemberRow.principal_id == member)
        return [(row, name) for row, name in (await self._session.execute(q)).all()]

    async def expired(self, now: datetime) -> list[tuple[uuid.UUID, str | None]]:
        """Done jobs past their expiry."""
        return [(job_id, file_name) for job_id, file_name in (await self._session.execute(select(
            ExtractJobRow.id, ExtractJobRow.file_name).where(
                ExtractJobRow.status == "done", ExtractJobRow.expires_at <= now))).all()]


class SnapshotStore(Protocol):
    """DP statistics snapshots."""

    async def add(self, row: StatsSnapshotRow) -> None:
        """Store a new snapshot."""
        ...

    async def newest_id(self) -> uuid.UUID | None:
        """The id of the newest snapshot."""
        ...

    async def get(self, snapshot_id: uuid.UUID) -> StatsSnapshotRow | None:
        """One snapshot."""
        ...

    async def spend(self, snapshot_id: uuid.UUID) -> str | None:
        """The snapshot's per-cell spend (JSON), None when it holds none."""
        ...


class SnapshotRepository:
    """:class:`SnapshotStore` on a SQLAlchemy session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: StatsSnapshotRow) -> None:
        """Add the snapshot (written with the transaction)."""
        self._session.add(row)

    async def newest_id(self) -> uuid.UUID | None:
        """The newest snapshot's id."""
        return (await self._session.execute(select(StatsSnapshotRow.id).order_by(
            StatsSnapshotRow.created_at.desc()).limit(1))).scalar()

    async def get(self, snapshot_id: uuid.UUID) -> StatsSnapshotRow | None:
        """One snapshot."""
        return await self._session.get(StatsSnapshotRow, snapshot_id)

    async def spend(self, snapshot_id: uuid.UUID) -> str | None:
        """Only the spend column."""
        return await self._session.scalar(select(StatsSnapshotRow.spend).where(StatsSnapshotRow.id == snapshot_id))
