"""Differentially private counts over the consented population, charged to a project's ε budget.

The true counts come from a *snapshot*: the customers with a lawful basis for ``analytics``
read and decrypted once (the extract pipeline, audited with every subject), generalized and
folded into cells ``(age band, region, gender) -> count``. No row-level value is kept.

A query groups the snapshot's cells by the requested dimensions over their whole *public*
domain (every age band, every region, every gender - not only the ones present, so which
groups exist is not revealed), then OpenDP adds discrete Laplace noise of scale ``1/ε`` to
each count. One customer sits in exactly one cell, so the histogram's L1 sensitivity is 1 and
the whole answer costs ε (parallel composition). Nothing here makes its own noise.

Before the answer is computed, ε is charged to the project by one conditional UPDATE, so no
number of concurrent processes can overspend; a query that would exceed the budget is refused
with what is left. The noisy counts are returned as drawn (unbiased; they may be negative).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import product
from typing import TYPE_CHECKING, Any

import opendp.prelude as dp
from sqlalchemy import select

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.audit.subjects import SubjectList
from vault.lib.clock import as_utc, utcnow
from vault.lib.ids import new_id
from vault.privacy.collect import executor_for, plan_tasks, run_all
from vault.privacy.errors import BudgetExhaustedError, NoSnapshotError, StatsQueryError
from vault.privacy.generalize import POSTAL_REGIONS, TOP_AGE, UNASSIGNED_REGION, generalize
from vault.privacy.models import StatsSnapshotRow
from vault.privacy.projects import ANALYTICS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from vault.access.caller import Caller
    from vault.crypto.keyring import Keyring
    from vault.db.engine import Database
    from vault.policy.purposes import PurposeCatalogue
    from vault.privacy.projects import ProjectGuard, ProjectService

dp.enable_features("contrib")

MISSING = "unknown"
#: The public domain of each dimension (known without looking at any customer).
DOMAINS: dict[str, tuple[str, ...]] = {
    "age_band": (*(f"{lo}-{lo + 4}" for lo in range(0, TOP_AGE, 5)), f"{TOP_AGE}+", MISSING),
    "age_band10": (*(f"{lo}-{lo + 9}" for lo in range(0, TOP_AGE, 10)), f"{TOP_AGE}+", MISSING),
    "region": (*dict.fromkeys(POSTAL_REGIONS.values()), UNASSIGNED_REGION, MISSING),
    "gender": ("F", "M", "X", MISSING),
}
DIMENSIONS = tuple(DOMAINS)
#: Snapshot cell layout: age band (5 years), region, gender.
_CELL = ("age_band", "region", "gender")
MAX_EPSILON = 1.0
DEFAULT_EPSILON = 0.1
SNAPSHOT_TTL_CHECK = 2.0  # seconds a process trusts its cached snapshot id before asking the database


@dataclass(frozen=True)
class Snapshot:
    """True counts per cell at one moment."""

    id: uuid.UUID
    created_at: datetime
    reference_date: str
    customers: int
    cells: dict[tuple[str, str, str], int]


@dataclass(frozen=True)
class NoisyCounts:
    """A DP answer: groups with noisy counts, how they were made, and what ε is left."""

    by: list[str]
    filters: dict[str, str]
    groups: list[dict[str, Any]]
    epsilon: float
    scale: float
    epsilon_remaining: float
    snapshot: Snapshot


@lru_cache(maxsize=64)
def _laplace(scale: float, size: int) -> Any:
    """OpenDP's discrete Laplace on an integer vector of ``size`` (L1 sensitivity 1 -> ε = 1/scale)."""
    space = dp.vector_domain(dp.atom_domain(T=int), size=size), dp.l1_distance(T=int)
    return space >> dp.m.then_laplace(scale=scale)


def noisy_counts(counts: Sequence[int], epsilon: float) -> tuple[list[int], float]:
    """Each count plus discrete Laplace noise of scale 1/ε (OpenDP); returns the counts and the scale."""
    scale = 1.0 / epsilon
    if not counts:
        return [], scale
    meas = _laplace(scale, len(counts))
    out = meas(list(counts))
    if meas.map(1) > epsilon * (1 + 1e-9):  # the privacy map must agree with what is charged
        raise RuntimeError("OpenDP privacy map exceeds the charged epsilon")
    return [int(v) for v in out], scale


class DpStats:
    """Snapshots and DP queries (opens its own transactions)."""

    def __init__(self, db: Database, guard: ProjectGuard, projects: ProjectService, keyring: Keyring,
                 purposes: PurposeCatalogue, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._guard = guard
        self._projects = projects
        self._keyring = keyring
        self._purposes = purposes
        self._clock = clock
        self._cache: Snapshot | None = None
        self._checked = 0.0

    # -- snapshots -------------------------------------------------------------------------------------

    async def refresh(self, caller: Caller) -> Snapshot:
        """Read the consented population once and store its cell counts (audited with every subject)."""
        await self._guard.require(caller, perms.STATS_REFRESH, ANALYTICS, "stats.snapshot")
        purpose = self._purposes.get(ANALYTICS)
        if purpose is None:
            raise StatsQueryError("purpose 'analytics' is not configured")
        now = self._clock()
        reference = now.date()
        fields = ("birth_date", "gender", "postal_code")
        provider = self._keyring.provider
        async with self._db.read() as session:
            tasks, total = await plan_tasks(session, self._db.url, purpose, now, fields, {}, provider,
                                            self._keyring.pseudonyms.for_project("vault.stats"))
        subjects = SubjectList()
        cells: dict[tuple[str, str, str], int] = {}
        executor = executor_for(total, provider)
        try:
            for future in [asyncio.wrap_future(f) for f in run_all(executor, tasks)]:
                part = await future
                subjects.extend_packed(part.ids)
                _fold(cells, part.values, reference)
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        count = sum(cells.values())
        row = StatsSnapshotRow(id=new_id(), purpose=ANALYTICS, reference_date=reference.isoformat(), customers=count,
                               created_at=now, created_by=caller.actor.name,
                               cells=json.dumps([[*k, v] for k, v in sorted(cells.items())], ensure_ascii=False))
        event = AuditEvent("stats.snapshot", Outcome.ALLOWED, caller.actor, purpose=ANALYTICS,
                           fields=fields, request_id=caller.request_id, client_ip=caller.client_ip,
                           detail=f"snapshot={row.id} customers={count} cells={len(cells)}")
        await self._guard.audit.record_bulk_durable(event, subjects)
        async with self._db.write() as session:
            session.add(row)
        snap = Snapshot(row.id, now, row.reference_date, count, cells)
        self._cache, self._checked = snap, time.monotonic()
        return snap

    async def _latest(self) -> Snapshot:
        if self._cache is not None and time.monotonic() - self._checked < SNAPSHOT_TTL_CHECK:
            return self._cache
        async with self._db.read() as session:
            newest = (await session.execute(select(StatsSnapshotRow.id).order_by(
                StatsSnapshotRow.created_at.desc()).limit(1))).scalar()
            if newest is None:
                raise NoSnapshotError("no statistics snapshot yet; create one with POST /v1/stats/snapshots")
            if self._cache is None or self._cache.id != newest:
                row = await session.get(StatsSnapshotRow, newest)
                assert row is not None
                cells = {(a, r, g): int(n) for a, r, g, n in json.loads(row.cells)}
                self._cache = Snapshot(row.id, as_utc(row.created_at), row.reference_date, row.customers, cells)
        self._checked = time.monotonic()
        return self._cache

    # -- queries ---------------------------------------------------------------------------------------

    async def counts(self, project_name: str, by: Sequence[str], filters: dict[str, str], epsilon: float,
                     caller: Caller) -> NoisyCounts:
        """Noisy counts grouped by ``by`` (within ``filters``), charged ε to the project.

        Raises:
            StatsQueryError: unknown dimension or value, ε out of (0, 1].
            ProjectNotFoundError / NotAMemberError: not the caller's project.
            BudgetExhaustedError: ε would exceed the budget (nothing charged; states what is left).
        """
        await self._guard.require(caller, perms.STATS_READ, ANALYTICS, "stats.count")
        by, filters = _check_query(by, filters, epsilon)
        snapshot = await self._latest()
        query = f"counts by={','.join(by)} filter={_filters_text(filters)} epsilon={epsilon:g}"
        async with self._db.write() as session:
            project = await self._projects.require_member(session, project_name, caller, "stats.count")
            left = await self._projects.spend(session, project, epsilon, query, caller)
            if left is None:
                remaining = max(0.0, project.epsilon_budget - project.epsilon_spent)
                await self._guard.deny(caller, "stats.count", f"project={project.id} budget exhausted: {query} "
                                       f"remaining={remaining:g}", ANALYTICS)
                raise BudgetExhaustedError(
                    f"project {project.name!r} has ε {remaining:g} left of {project.epsilon_budget:g}; this query "
                    f"asks for {epsilon:g}. Ask a compliance officer for more budget, or spend less per query.",
                    epsilon_budget=project.epsilon_budget, epsilon_spent=project.epsilon_spent,
                    epsilon_remaining=remaining, epsilon_requested=epsilon)
            await self._guard.record(caller, "stats.count", f"project={project.id} {query} snapshot={snapshot.id}",
                                     ANALYTICS, session)
        keys, true = _group(snapshot.cells, by, filters)
        noisy, scale = noisy_counts(true, epsilon)
        groups = [{**dict(zip(by, key, strict=True)), "count": n} for key, n in zip(keys, noisy, strict=True)]
        return NoisyCounts(list(by), filters, groups, epsilon, scale, left, snapshot)


def _fold(cells: dict[tuple[str, str, str], int], values: dict[str, list[str | None]], reference: date) -> None:
    memo: dict[tuple[str, str | None], str] = {}

    def gen(step: str, value: str | None) -> str:
        key = (step, value)
        if key not in memo:
            memo[key] = generalize(step, value, reference) or MISSING
        return memo[key]

    for born, region, gender in zip(values["birth_date"], values["postal_code"], values["gender"], strict=True):
        cell = (gen("band5", born), gen("region", region), gender if gender in ("F", "M", "X") else MISSING)
        cells[cell] = cells.get(cell, 0) + 1


def _check_query(by: Sequence[str], filters: dict[str, str], epsilon: float) -> tuple[list[str], dict[str, str]]:
    dims = [d.strip() for d in by if d.strip()]
    if not dims:
        raise StatsQueryError(f"by: name at least one dimension: {', '.join(DIMENSIONS)}", valid=list(DIMENSIONS))
    for d in [*dims, *filters]:
        if d not in DOMAINS:
            raise StatsQueryError(f"unknown dimension {d!r}; dimensions: {', '.join(DIMENSIONS)}",
                                  valid=list(DIMENSIONS))
    if len(set(dims)) != len(dims) or ("age_band" in dims and "age_band10" in dims):
        raise StatsQueryError("by: each dimension once (age_band or age_band10, not both)")
    for d, v in filters.items():
        if v not in DOMAINS[d]:
            raise StatsQueryError(f"filter {d}: {v!r} is not a value of {d}; values: {', '.join(DOMAINS[d])}",
                                  valid=list(DOMAINS[d]))
    if not (isinstance(epsilon, float | int) and math.isfinite(epsilon) and 0 < epsilon <= MAX_EPSILON):
        raise StatsQueryError(f"epsilon: must be > 0 and at most {MAX_EPSILON:g} per query")
    return dims, dict(filters)


def _band10(band5: str) -> str:
    if band5 in (MISSING, f"{TOP_AGE}+"):
        return band5
    lo = int(band5.split("-")[0]) // 10 * 10
    return f"{lo}-{lo + 9}"


def _dim(cell: tuple[str, str, str], name: str) -> str:
    age, region, gender = cell
    if name == "age_band":
        return age
    if name == "age_band10":
        return _band10(age)
    if name == "region":
        return region
    return gender


def _group(cells: dict[tuple[str, str, str], int], by: Sequence[str],
           filters: dict[str, str]) -> tuple[list[tuple[str, ...]], list[int]]:
    """True counts over the full public domain of ``by`` (zero where nobody is)."""
    totals: dict[tuple[str, ...], int] = {}
    for cell, n in cells.items():
        if all(_dim(cell, d) == v for d, v in filters.items()):
            key = tuple(_dim(cell, d) for d in by)
            totals[key] = totals.get(key, 0) + n
    domain = [DOMAINS[d] if d not in filters else (filters[d],) for d in by]
    keys = list(product(*domain))
    return keys, [totals.get(k, 0) for k in keys]


def _filters_text(filters: dict[str, str]) -> str:
    return ";".join(f"{k}:{v}" for k, v in sorted(filters.items())) or "-"
