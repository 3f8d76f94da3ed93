"""The analysts' use cases as the entry points (API, console, CLI) run them: each in its own transactions.

The services (:class:`~vault.privacy.projects.ProjectService`, :class:`~vault.privacy.dp.StatsService`) work
on the session they are given and never commit. These runners are where the package opens transactions
(with :class:`vault.privacy.job_runner.ExtractJobs` for the background jobs), because several use cases need
more than one:

- a change to a project is admitted in a read transaction (a manager who may not see it is denied durably
  at once, not behind the write lock), then made with its audit entry in a write transaction;
- a DP query is admitted in a read transaction (permission, query, snapshot, membership), its ε charged in
  a write transaction (the conditional UPDATE, the ledger row and the audit entry commit together), and a
  refusal for want of budget is denied durably after that transaction ended;
- a snapshot is planned in a read transaction, read by worker processes outside any, and stored in a write
  transaction;
- an extract is planned in a read transaction and built outside any (its workers read the database
  themselves; its audit entry goes through the group-commit log).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.lib.clock import utcnow
from vault.privacy.dp import NoisyCounts, NoisySums, StatsService, answer, take_snapshot
from vault.privacy.projects import ANALYTICS, ProjectService

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable, Sequence
    from datetime import datetime
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.crypto.pseudonym import Pseudonymizer
    from vault.db.engine import Database
    from vault.privacy.dp import Snapshot, StatsDeps
    from vault.privacy.models import EpsilonSpendRow
    from vault.privacy.projects import Project, ProjectGuard, Reidentified
    from vault.privacy.service import ExtractResult, ExtractService, Progress
    from vault.privacy.spec import ExtractSpec


class ProjectRunner:
    """Runs each project use case in its own transaction(s); one per process."""

    def __init__(self, db: Database, guard: ProjectGuard, pseudonyms: Pseudonymizer,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._guard = guard
        self._pseudonyms = pseudonyms
        self._clock = clock

    def service(self, session: AsyncSession) -> ProjectService:
        """The project service on ``session``."""
        return ProjectService(session, self._guard, self._pseudonyms, self._clock)

    def sees_all(self, caller: Caller) -> bool:
        """Compliance officers (and the local operator) see every project and extract."""
        return self._guard.sees_all(caller)

    async def projects(self, caller: Caller) -> list[Project]:
        """Every project, or the analyst's own (see :meth:`ProjectService.projects`)."""
        async with self._db.read() as session:
            return await self.service(session).projects(caller)

    async def get(self, project_id: uuid.UUID, caller: Caller) -> Project:
        """One project (see :meth:`ProjectService.get`)."""
        async with self._db.read() as session:
            return await self.service(session).get(project_id, caller)

    async def ledger(self, project_id: uuid.UUID, caller: Caller, limit: int = 100) -> list[EpsilonSpendRow]:
        """The project's most recent ε charges."""
        async with self._db.read() as session:
            return await self.service(session).ledger(project_id, caller, limit)

    async def create(self, name: str, caller: Caller, *, description: str | None = None,
                     epsilon_budget: float = 0.0, members: list[uuid.UUID] | None = None) -> Project:
        """Create a project (see :meth:`ProjectService.create`; a denial comes before any statement runs)."""
        async with self._db.write() as session:
            return await self.service(session).create(name, caller, description=description,
                                                      epsilon_budget=epsilon_budget, members=members)

    async def add_member(self, project_id: uuid.UUID, principal_id: uuid.UUID, caller: Caller) -> Project:
        """Add an analyst to the project (idempotent)."""
        async with self._db.read() as session:
            await self.service(session).admit(project_id, caller, "project.member_add")
        async with self._db.write() as session:
            return await self.service(session).add_member(project_id, principal_id, caller)

    async def remove_member(self, project_id: uuid.UUID, principal_id: uuid.UUID, caller: Caller) -> Project:
        """Remove an analyst from the project."""
        async with self._db.read() as session:
            await self.service(session).admit(project_id, caller, "project.member_remove")
        async with self._db.write() as session:
            return await self.service(session).remove_member(project_id, principal_id, caller)

    async def set_budget(self, project_id: uuid.UUID, epsilon_budget: float, caller: Caller) -> Project:
        """Set the project's total ε budget (what was spent stays spent)."""
        async with self._db.read() as session:
            await self.service(session).admit(project_id, caller, "project.budget_set", epsilon_budget=epsilon_budget)
        async with self._db.write() as session:
            return await self.service(session).set_budget(project_id, epsilon_budget, caller)

    async def rotate_key(self, project_id: uuid.UUID, caller: Caller) -> Project:
        """Start a new pseudonym key version."""
        async with self._db.read() as session:
            await self.service(session).admit(project_id, caller, "project.key_rotate")
        async with self._db.write() as session:
            return await self.service(session).rotate_key(project_id, caller)

    async def reidentify(self, project_id: uuid.UUID, pseudonym: str, caller: Caller, *, reason_code: str,
                         case_reference: str) -> Reidentified:
        """The customer behind a pseudonym, audited durably (see :meth:`ProjectService.reidentify`)."""
        async with self._db.read() as session:
            return await self.service(session).reidentify(project_id, pseudonym, caller, reason_code=reason_code,
                                                          case_reference=case_reference)


class StatsRunner:
    """Runs snapshots and DP queries in their transactions; one per process (its deps hold the snapshot cache)."""

    def __init__(self, db: Database, deps: StatsDeps, projects: ProjectRunner) -> None:
        self._db = db
        self._d = deps
        self._projects = projects

    @property
    def spend_upper(self) -> int:
        """The default clamping bound of one customer's spend (KRW)."""
        return self._d.spend_upper

    def service(self, session: AsyncSession) -> StatsService:
        """The statistics service on ``session``."""
        return StatsService(session, self._d, self._projects.service(session))

    async def refresh(self, caller: Caller) -> Snapshot:
        """Read the consented population once and store its cell counts (audited with every subject)."""
        async with self._db.read() as session:
            plan = await self.service(session).plan_snapshot(caller)
        row, snapshot = await take_snapshot(self._d, plan, caller)
        async with self._db.write() as session:
            await self.service(session).store(row)
        self._d.cache.put(snapshot)
        return snapshot

    async def counts(self, project_name: str, by: Sequence[str], filters: dict[str, str], epsilon: float,
                     caller: Caller) -> NoisyCounts:
        """Noisy counts grouped by ``by`` (within ``filters``), charged ε to the project.

        Raises:
            StatsQueryError: unknown dimension or value, ε out of (0, 1].
            ProjectNotFoundError / NotAMemberError: not the caller's project.
            BudgetExhaustedError: ε would exceed the budget (nothing charged; states what is left).
        """
        result = await self._query("count", project_name, by, filters, epsilon, caller)
        assert isinstance(result, NoisyCounts)
        return result

    async def sums(self, project_name: str, measure: str, by: Sequence[str], filters: dict[str, str],
                   epsilon: float, caller: Caller, *, upper: int | None = None) -> NoisySums:
        """Noisy sums of ``measure`` (each customer's value clamped to [0, upper]) grouped by ``by``.

        Raises:
            StatsQueryError: unknown measure, dimension or value, ε or ``upper`` out of range.
            ProjectNotFoundError / NotAMemberError: not the caller's project.
            NoSnapshotError: no snapshot, or one without the measure.
            BudgetExhaustedError: ε would exceed the budget (nothing charged; states what is left).
        """
        result = await self._query("sum", project_name, by, filters, epsilon, caller, measure=measure, upper=upper)
        assert isinstance(result, NoisySums)
        return result

    async def means(self, project_name: str, measure: str, by: Sequence[str], filters: dict[str, str],
                    epsilon: float, caller: Caller, *, upper: int | None = None) -> NoisySums:
        """Noisy means of ``measure`` per group: ε/2 on clamped sums, ε/2 on counts, then divided.

        Raises: as :meth:`sums`.
        """
        result = await self._query("mean", project_name, by, filters, epsilon, caller, measure=measure, upper=upper)
        assert isinstance(result, NoisySums)
        return result

    async def _query(self, stat: str, project_name: str, by: Sequence[str], filters: dict[str, str],
                     epsilon: float, caller: Caller, *, measure: str | None = None,
                     upper: int | None = None) -> NoisyCounts | NoisySums:
        async with self._db.read() as session:  # refusals are audited durably: not inside the write transaction
            query = await self.service(session).admit(stat, project_name, by, filters, epsilon, caller,
                                                      measure=measure, upper=upper)
        async with self._db.write() as session:
            charged = await self.service(session).charge(query, caller)
        if charged.refusal is not None:
            # After the write transaction ended: the durable denial entry needs the database's write lock.
            await self._d.guard.deny(caller, query.action, charged.refusal, ANALYTICS, charged.context)
        assert charged.left is not None
        return answer(query, charged.left)


class ExtractRunner:
    """Runs one extract (CLI, extract jobs): planned in a read transaction, built outside any."""

    def __init__(self, db: Database, service: ExtractService) -> None:
        self._db = db
        self._service = service

    async def create(self, spec: ExtractSpec, out: Path, caller: Caller, *, spec_sha256: str,
                     progress: Progress | None = None) -> ExtractResult:
        """Build, check, audit and write the extract described by ``spec`` to ``out`` (+ its manifest).

        Raises:
            ExtractSpecError / DirectIdentifierError: the spec asks for something not allowed.
            AccessDeniedError: the caller's role may not create extracts for the purpose (audited).
            TargetUnmeetableError: k / l cannot be met within ``max_suppression`` even at the top of every
                ladder (audited, with the worst classes; nothing written).
            ReleaseRefusedError: the release gate found structured identifiers (audited; nothing written).
            ExtractWriteError, AuditWriteError: nothing is left at ``out``.
        """
        prepared = await self._service.prepare(spec, out, caller)
        async with self._db.read() as session:
            planned = await self._service.plan(session, prepared)
        return await self._service.build(prepared, planned, out, caller, spec_sha256=spec_sha256, progress=progress)
