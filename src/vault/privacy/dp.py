"""Differentially private counts over the consented population, charged to a project's ε budget.

The true counts come from a *snapshot*: the customers with a lawful basis for ``analytics``
read and decrypted once (the extract pipeline, audited with every subject), generalized and
folded into cells ``(age band, region, gender) -> count``. No row-level value is kept.

A query groups the snapshot's cells by the requested dimensions over their whole *public*
domain (every age band, every region, every gender - not only the ones present, so which
groups exist is not revealed), then OpenDP adds discrete Laplace noise of scale ``1/ε`` to
each count. One customer sits in exactly one cell, so the histogram's L1 sensitivity is 1 and
the whole answer costs ε (parallel composition). Nothing here makes its own noise.

Bounded sums and means of *spend* use the same snapshot: it also keeps, per cell, the sorted
per-customer spend (KRW of purchases not returned in the 365 days up to the snapshot's date,
the segments' ``monetary_krw``; no customer id). A query clamps each customer's spend to
``[0, upper]`` (``upper`` from the query or ``VAULT_ANALYTICS__SPEND_UPPER_KRW``), sums per group,
and OpenDP adds discrete Laplace noise of scale ``upper/ε`` (one customer moves one group's sum
by at most ``upper``). A mean spends ε/2 on the sums and ε/2 on the counts and divides.

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

import numpy as np
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
    from collections.abc import Awaitable, Callable, Mapping, Sequence
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
#: What sums and means may be asked of (per customer, from the segments' behaviour data).
MEASURES = ("spend",)
#: Spend is the amount of purchases not returned in this many days up to the snapshot's date.
SPEND_WINDOW_DAYS = 365
#: Default and largest clamping bound of one customer's spend (KRW).
DEFAULT_SPEND_UPPER = 2_000_000
MAX_SPEND_UPPER = 1_000_000_000
SNAPSHOT_TTL_CHECK = 2.0  # seconds a process trusts its cached snapshot id before asking the database


Cell = tuple[str, str, str]


@dataclass(frozen=True)
class Snapshot:
    """True counts per cell at one moment."""

    id: uuid.UUID
    created_at: datetime
    reference_date: str
    customers: int
    cells: dict[Cell, int]


@dataclass(frozen=True)
class NoisySums:
    """A DP answer over a bounded measure: per group a noisy sum (and for means a noisy count and mean)."""

    measure: str
    by: list[str]
    filters: dict[str, str]
    groups: list[dict[str, Any]]
    epsilon: float
    lower: int
    upper: int
    sum_scale: float
    count_scale: float | None
    epsilon_remaining: float
    snapshot: Snapshot


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


@lru_cache(maxsize=64)
def _laplace64(scale: float, size: int) -> Any:
    """OpenDP's discrete Laplace on a 64-bit integer vector (sums of KRW overflow 32 bits)."""
    space = dp.vector_domain(dp.atom_domain(T="i64"), size=size), dp.l1_distance(T="i64")
    return space >> dp.m.then_laplace(scale=scale)


def noisy_sums(sums: Sequence[int], epsilon: float, upper: int) -> tuple[list[int], float]:
    """Each sum of values clamped to [0, upper] plus discrete Laplace noise of scale upper/ε (OpenDP).

    One customer is in one group and moves its sum by at most ``upper`` (L1 sensitivity ``upper``);
    OpenDP's privacy map at that distance must not exceed ``epsilon``. Returns the sums and the scale.
    """
    scale = upper / epsilon
    if not sums:
        return [], scale
    meas = _laplace64(scale, len(sums))
    out = meas([int(v) for v in sums])
    if meas.map(upper) > epsilon * (1 + 1e-9):
        raise RuntimeError("OpenDP privacy map exceeds the charged epsilon")
    return [int(v) for v in out], scale


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
    """Snapshots and DP queries (opens its own transactions).

    ``spend`` gives each customer's spend on a day (KRW, by customer id hex; the composition root
    wires the segments' ``monetary_krw``); without it snapshots hold counts only.
    """

    def __init__(self, db: Database, guard: ProjectGuard, projects: ProjectService, keyring: Keyring,
                 purposes: PurposeCatalogue, clock: Callable[[], datetime] = utcnow, *,
                 spend: Callable[[date], Awaitable[Mapping[str, int]]] | None = None,
                 spend_upper: int = DEFAULT_SPEND_UPPER) -> None:
        self._db = db
        self._guard = guard
        self._projects = projects
        self._keyring = keyring
        self._purposes = purposes
        self._clock = clock
        self._spend = spend
        self.spend_upper = spend_upper
        self._cache: Snapshot | None = None
        self._checked = 0.0
        self._spend_cache: tuple[uuid.UUID, dict[Cell, np.ndarray[Any, Any]]] | None = None

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
        cells: dict[Cell, int] = {}
        spend_of = await self._spend(reference) if self._spend is not None else None
        spend: dict[Cell, list[int]] | None = {} if spend_of is not None else None
        executor = executor_for(total, provider)
        try:
            for future in [asyncio.wrap_future(f) for f in run_all(executor, tasks)]:
                part = await future
                subjects.extend_packed(part.ids)
                placed = _fold(cells, part.values, reference)
                if spend is not None and spend_of is not None:
                    ids = part.ids.hex()
                    for i, cell in enumerate(placed):
                        spend.setdefault(cell, []).append(int(spend_of.get(ids[32 * i:32 * i + 32], 0)))
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        count = sum(cells.values())
        row = StatsSnapshotRow(id=new_id(), purpose=ANALYTICS, reference_date=reference.isoformat(), customers=count,
                               created_at=now, created_by=caller.actor.name,
                               cells=json.dumps([[*k, v] for k, v in sorted(cells.items())], ensure_ascii=False),
                               spend=None if spend is None else json.dumps(
                                   [[*k, sorted(v)] for k, v in sorted(spend.items())], ensure_ascii=False))
        measures = f" measures=spend/{SPEND_WINDOW_DAYS}d" if spend is not None else ""
        event = AuditEvent("stats.snapshot", Outcome.ALLOWED, caller.actor, purpose=ANALYTICS,
                           fields=fields, request_id=caller.request_id, client_ip=caller.client_ip,
                           detail=f"snapshot={row.id} customers={count} cells={len(cells)}{measures}")
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

    async def _spend_cells(self, snapshot: Snapshot) -> dict[Cell, np.ndarray[Any, Any]]:
        """The snapshot's per-cell spend (sorted int64 arrays), read once per snapshot."""
        if self._spend_cache is not None and self._spend_cache[0] == snapshot.id:
            return self._spend_cache[1]
        async with self._db.read() as session:
            raw = await session.scalar(select(StatsSnapshotRow.spend).where(StatsSnapshotRow.id == snapshot.id))
        if raw is None:
            raise NoSnapshotError("the latest statistics snapshot holds no spend (it was made before spend was "
                                  "recorded, or without behaviour data); create one with POST /v1/stats/snapshots")
        cells = {(a, r, g): np.asarray(v, dtype=np.int64) for a, r, g, v in json.loads(raw)}
        self._spend_cache = (snapshot.id, cells)
        return cells

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
        left = await self._charge(project_name, epsilon, query, "stats.count", snapshot, caller)
        keys, true = _group(snapshot.cells, by, filters)
        noisy, scale = noisy_counts(true, epsilon)
        groups = [{**dict(zip(by, key, strict=True)), "count": n} for key, n in zip(keys, noisy, strict=True)]
        return NoisyCounts(list(by), filters, groups, epsilon, scale, left, snapshot)

    async def sums(self, project_name: str, measure: str, by: Sequence[str], filters: dict[str, str],
                   epsilon: float, caller: Caller, *, upper: int | None = None) -> NoisySums:
        """Noisy sums of ``measure`` (each customer's value clamped to [0, upper]) grouped by ``by``.

        Raises:
            StatsQueryError: unknown measure, dimension or value, ε or ``upper`` out of range.
            ProjectNotFoundError / NotAMemberError: not the caller's project.
            NoSnapshotError: no snapshot, or one without the measure.
            BudgetExhaustedError: ε would exceed the budget (nothing charged; states what is left).
        """
        return await self._bounded("sum", project_name, measure, by, filters, epsilon, caller, upper)

    async def means(self, project_name: str, measure: str, by: Sequence[str], filters: dict[str, str],
                    epsilon: float, caller: Caller, *, upper: int | None = None) -> NoisySums:
        """Noisy means of ``measure`` per group: ε/2 on clamped sums, ε/2 on counts, then divided.

        Raises: as :meth:`sums`.
        """
        return await self._bounded("mean", project_name, measure, by, filters, epsilon, caller, upper)

    async def _bounded(self, stat: str, project_name: str, measure: str, by: Sequence[str],
                       filters: dict[str, str], epsilon: float, caller: Caller, upper: int | None) -> NoisySums:
        action = f"stats.{stat}"
        await self._guard.require(caller, perms.STATS_READ, ANALYTICS, action)
        by, filters = _check_query(by, filters, epsilon)
        if measure not in MEASURES:
            raise StatsQueryError(f"measure: {measure!r} is not a measure; measures: {', '.join(MEASURES)}",
                                  valid=list(MEASURES))
        bound = self.spend_upper if upper is None else upper
        if isinstance(bound, bool) or not isinstance(bound, int) or not 1 <= bound <= MAX_SPEND_UPPER:
            raise StatsQueryError(f"upper: the clamping bound must be a whole number of KRW from 1 to "
                                  f"{MAX_SPEND_UPPER:,}")
        snapshot = await self._latest()
        spend = await self._spend_cells(snapshot)
        query = (f"{stat}s measure={measure} upper={bound} by={','.join(by)} filter={_filters_text(filters)} "
                 f"epsilon={epsilon:g}")
        left = await self._charge(project_name, epsilon, query, action, snapshot, caller)
        clamped = {cell: int(np.minimum(values, bound).sum()) for cell, values in spend.items()}
        keys, true_sums = _group(clamped, by, filters)
        labels = [dict(zip(by, key, strict=True)) for key in keys]
        if stat == "sum":
            noisy, scale = noisy_sums(true_sums, epsilon, bound)
            groups = [{**lab, "sum": n} for lab, n in zip(labels, noisy, strict=True)]
            return NoisySums(measure, list(by), filters, groups, epsilon, 0, bound, scale, None, left, snapshot)
        _, true_counts = _group(snapshot.cells, by, filters)
        m = noisy_means(true_sums, true_counts, epsilon, bound)
        groups = [{**lab, "mean": mean, "sum": s, "count": c}
                  for lab, mean, s, c in zip(labels, m.means, m.sums, m.counts, strict=True)]
        return NoisySums(measure, list(by), filters, groups, epsilon, 0, bound, m.sum_scale, m.count_scale, left,
                         snapshot)

    async def _charge(self, project_name: str, epsilon: float, query: str, action: str, snapshot: Snapshot,
                      caller: Caller) -> float:
        """Charge ε to the caller's project (one conditional UPDATE) and audit the query; returns what is left.

        Raises:
            ProjectNotFoundError / NotAMemberError: not the caller's project.
            BudgetExhaustedError: nothing charged; states what is left (the refusal is audited).
        """
        async with self._db.write() as session:
            project = await self._projects.require_member(session, project_name, caller, action)
            left = await self._projects.spend(session, project, epsilon, query, caller)
            if left is None:
                remaining = max(0.0, project.epsilon_budget - project.epsilon_spent)
                await self._guard.deny(caller, action, BudgetExhaustedError(
                    f"project {project.name!r} has ε {remaining:g} left of {project.epsilon_budget:g}; this query "
                    f"asks for {epsilon:g}. Ask a compliance officer for more budget, or spend less per query.",
                    epsilon_budget=project.epsilon_budget, epsilon_spent=project.epsilon_spent,
                    epsilon_remaining=remaining, epsilon_requested=epsilon), ANALYTICS,
                    f"project={project.id} budget exhausted: {query} remaining={remaining:g}")
            await self._guard.record(caller, action, f"project={project.id} {query} snapshot={snapshot.id}",
                                     ANALYTICS, session)
        return left


@dataclass(frozen=True)
class NoisyMeans:
    """Means drawn from noisy clamped sums and noisy counts, each made with half the ε."""

    means: list[float | None]
    sums: list[int]
    counts: list[int]
    sum_scale: float
    count_scale: float


def noisy_means(sums: Sequence[int], counts: Sequence[int], epsilon: float, upper: int) -> NoisyMeans:
    """Per group ``noisy sum / noisy count`` (ε/2 each, OpenDP); ``sums`` already clamped to [0, upper]."""
    half = epsilon / 2
    noisy, sum_scale = noisy_sums(sums, half, upper)
    n, count_scale = noisy_counts(counts, half)
    return NoisyMeans([_mean(s, c, upper) for s, c in zip(noisy, n, strict=True)], noisy, n, sum_scale,
                      count_scale)


def _mean(noisy_sum: int, noisy_count: int, upper: int) -> float | None:
    """Noisy sum over noisy count, kept within [0, upper] (post-processing); None when the count is below 1."""
    if noisy_count < 1:
        return None
    return round(min(max(noisy_sum / noisy_count, 0.0), float(upper)), 2)


def _fold(cells: dict[Cell, int], values: dict[str, list[str | None]], reference: date) -> list[Cell]:
    memo: dict[tuple[str, str | None], str] = {}

    def gen(step: str, value: str | None) -> str:
        key = (step, value)
        if key not in memo:
            memo[key] = generalize(step, value, reference) or MISSING
        return memo[key]

    placed: list[Cell] = []
    for born, region, gender in zip(values["birth_date"], values["postal_code"], values["gender"], strict=True):
        cell = (gen("band5", born), gen("region", region), gender if gender in ("F", "M", "X") else MISSING)
        cells[cell] = cells.get(cell, 0) + 1
        placed.append(cell)
    return placed


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


def _group(cells: Mapping[Cell, int], by: Sequence[str],
           filters: dict[str, str]) -> tuple[list[tuple[str, ...]], list[int]]:
    """True totals (counts or sums) over the full public domain of ``by`` (zero where nobody is)."""
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
