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
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from itertools import product
from typing import TYPE_CHECKING, Any

import numpy as np
import opendp.prelude as dp

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
from vault.privacy.repository import SnapshotRepository

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.crypto.keyring import Keyring
    from vault.policy.purposes import PurposeCatalogue
    from vault.privacy.collect import CollectTask
    from vault.privacy.projects import ProjectGuard, ProjectService
    from vault.privacy.repository import SnapshotStore

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


@dataclass
class SnapshotCache:
    """The newest snapshot this process knows, and its per-cell spend (one per process, shared by every session)."""

    snapshot: Snapshot | None = None
    checked: float = 0.0
    spend: tuple[uuid.UUID, dict[Cell, np.ndarray[Any, Any]]] | None = None

    def put(self, snapshot: Snapshot) -> None:
        """Remember a snapshot just stored."""
        self.snapshot, self.checked = snapshot, time.monotonic()


@dataclass(frozen=True)
class StatsDeps:
    """Collaborators of :class:`StatsService`, built once per process.

    ``spend`` gives each customer's spend on a day (KRW, by customer id hex; the composition root wires the
    segments' ``monetary_krw``); without it snapshots hold counts only.
    """

    guard: ProjectGuard
    keyring: Keyring
    purposes: PurposeCatalogue
    #: The database URL the population's worker processes connect to (:mod:`vault.privacy.collect`).
    url: str
    cache: SnapshotCache = field(default_factory=SnapshotCache)
    clock: Callable[[], datetime] = utcnow
    spend: Callable[[date], Awaitable[Mapping[str, int]]] | None = None
    spend_upper: int = DEFAULT_SPEND_UPPER


@dataclass(frozen=True)
class SnapshotPlan:
    """A snapshot to take: the population's id ranges, read by :func:`take_snapshot` outside any transaction."""

    tasks: list[CollectTask]
    total: int
    at: datetime
    fields: tuple[str, ...]


@dataclass(frozen=True)
class StatsQuery:
    """An admitted DP query: checked, on a snapshot, for a project the caller is a member of (not yet charged)."""

    stat: str
    action: str
    project_name: str
    by: list[str]
    filters: dict[str, str]
    epsilon: float
    text: str
    snapshot: Snapshot
    measure: str | None = None
    upper: int = 0
    spend: dict[Cell, np.ndarray[Any, Any]] | None = None


@dataclass(frozen=True)
class Charge:
    """What charging a query did: ε left after it, or the refusal (nothing charged) and its audit context."""

    left: float | None
    refusal: BudgetExhaustedError | None = None
    context: str = ""


class StatsService:
    """Snapshots and DP queries on the session it is given (never opens or commits a transaction).

    :class:`vault.privacy.runner.StatsRunner` runs each use case: a query is admitted in a read transaction
    (:meth:`admit`), charged in a write transaction (:meth:`charge`: the conditional UPDATE, the ledger row
    and the audit entry commit together) and, if the budget refused it, denied durably after that
    transaction ended; the answer is then drawn (:func:`answer`).
    """

    def __init__(self, session: AsyncSession, deps: StatsDeps, projects: ProjectService, *,
                 repo: SnapshotStore | None = None) -> None:
        self._session = session
        self._d = deps
        self._projects = projects
        self._repo = repo if repo is not None else SnapshotRepository(session)

    # -- snapshots -------------------------------------------------------------------------------------

    async def plan_snapshot(self, caller: Caller) -> SnapshotPlan:
        """Check the caller may refresh the statistics and cut the consented population into id ranges.

        Raises:
            AccessDeniedError: no ``stats:refresh`` (audited).
            StatsQueryError: the ``analytics`` purpose is not configured.
        """
        await self._d.guard.require(caller, perms.STATS_REFRESH, ANALYTICS, "stats.snapshot")
        purpose = self._d.purposes.get(ANALYTICS)
        if purpose is None:
            raise StatsQueryError("purpose 'analytics' is not configured")
        now = self._d.clock()
        fields = ("birth_date", "gender", "postal_code")
        tasks, total = await plan_tasks(self._session, self._d.url, purpose, now, fields, {},
                                        self._d.keyring.provider,
                                        self._d.keyring.pseudonyms.for_project("vault.stats"))
        return SnapshotPlan(tasks, total, now, fields)

    async def store(self, row: StatsSnapshotRow) -> None:
        """Store a snapshot taken by :func:`take_snapshot` (put it in the cache once committed)."""
        await self._repo.add(row)

    async def latest(self) -> Snapshot:
        """The newest snapshot (the process's cached one while its id is current).

        Raises:
            NoSnapshotError: none yet.
        """
        cache = self._d.cache
        if cache.snapshot is not None and time.monotonic() - cache.checked < SNAPSHOT_TTL_CHECK:
            return cache.snapshot
        newest = await self._repo.newest_id()
        if newest is None:
            raise NoSnapshotError("no statistics snapshot yet; create one with POST /v1/stats/snapshots")
        if cache.snapshot is None or cache.snapshot.id != newest:
            row = await self._repo.get(newest)
            assert row is not None
            cells = {(a, r, g): int(n) for a, r, g, n in json.loads(row.cells)}
            cache.snapshot = Snapshot(row.id, as_utc(row.created_at), row.reference_date, row.customers, cells)
        cache.checked = time.monotonic()
        return cache.snapshot

    async def spend_cells(self, snapshot: Snapshot) -> dict[Cell, np.ndarray[Any, Any]]:
        """The snapshot's per-cell spend (sorted int64 arrays), read once per snapshot.

        Raises:
            NoSnapshotError: the snapshot holds no spend.
        """
        cache = self._d.cache
        if cache.spend is not None and cache.spend[0] == snapshot.id:
            return cache.spend[1]
        raw = await self._repo.spend(snapshot.id)
        if raw is None:
            raise NoSnapshotError("the latest statistics snapshot holds no spend (it was made before spend was "
                                  "recorded, or without behaviour data); create one with POST /v1/stats/snapshots")
        cells = {(a, r, g): np.asarray(v, dtype=np.int64) for a, r, g, v in json.loads(raw)}
        cache.spend = (snapshot.id, cells)
        return cells

    # -- queries ---------------------------------------------------------------------------------------

    async def admit(self, stat: str, project_name: str, by: Sequence[str], filters: dict[str, str], epsilon: float,
                    caller: Caller, *, measure: str | None = None, upper: int | None = None) -> StatsQuery:
        """Check a query and its caller (run it in a read transaction: refusals are audited durably).

        ``stat`` is ``count``, ``sum`` or ``mean``; sums and means name a ``measure`` and clamp each customer's
        value to [0, ``upper``] (the configured bound when None).

        Raises:
            AccessDeniedError: no ``stats:read`` (audited).
            StatsQueryError: unknown measure, dimension or value, ε or ``upper`` out of range.
            NoSnapshotError: no snapshot, or one without the measure.
            ProjectNotFoundError / NotAMemberError: not the caller's project (audited).
        """
        action = f"stats.{stat}"
        await self._d.guard.require(caller, perms.STATS_READ, ANALYTICS, action)
        by, filters = _check_query(by, filters, epsilon)
        if stat == "count":
            snapshot = await self.latest()
            text = f"counts by={','.join(by)} filter={_filters_text(filters)} epsilon={epsilon:g}"
            query = StatsQuery(stat, action, project_name, by, filters, epsilon, text, snapshot)
        else:
            if measure not in MEASURES:
                raise StatsQueryError(f"measure: {measure!r} is not a measure; measures: {', '.join(MEASURES)}",
                                      valid=list(MEASURES))
            bound = self._d.spend_upper if upper is None else upper
            if isinstance(bound, bool) or not isinstance(bound, int) or not 1 <= bound <= MAX_SPEND_UPPER:
                raise StatsQueryError(f"upper: the clamping bound must be a whole number of KRW from 1 to "
                                      f"{MAX_SPEND_UPPER:,}")
            snapshot = await self.latest()
            spend = await self.spend_cells(snapshot)
            text = (f"{stat}s measure={measure} upper={bound} by={','.join(by)} filter={_filters_text(filters)} "
                    f"epsilon={epsilon:g}")
            query = StatsQuery(stat, action, project_name, by, filters, epsilon, text, snapshot, measure, bound,
                               spend)
        await self._projects.require_member(project_name, caller, action)
        return query

    async def charge(self, query: StatsQuery, caller: Caller) -> Charge:
        """Charge the query's ε to the project and audit it, in this (write) transaction.

        The charge is one conditional UPDATE, so concurrent queries never overspend; its ledger row and audit
        entry commit with it. A refusal charges nothing and is returned, not raised: its durable denial entry
        needs the database's write lock, so the caller records it (:meth:`ProjectGuard.deny`) after this
        transaction ended.

        Raises:
            ProjectNotFoundError / NotAMemberError: not the caller's project (checked again here).
        """
        project = await self._projects.require_member(query.project_name, caller, query.action)
        left = await self._projects.spend(project, query.epsilon, query.text, caller)
        if left is not None:
            await self._d.guard.record(caller, query.action, f"project={project.id} {query.text} "
                                       f"snapshot={query.snapshot.id}", ANALYTICS, self._session)
            return Charge(left)
        remaining = max(0.0, project.epsilon_budget - project.epsilon_spent)
        refused = BudgetExhaustedError(
            f"project {project.name!r} has ε {remaining:g} left of {project.epsilon_budget:g}; this query "
            f"asks for {query.epsilon:g}. Ask a compliance officer for more budget, or spend less per query.",
            epsilon_budget=project.epsilon_budget, epsilon_spent=project.epsilon_spent,
            epsilon_remaining=remaining, epsilon_requested=query.epsilon)
        return Charge(None, refused, f"project={project.id} budget exhausted: {query.text} remaining={remaining:g}")


async def take_snapshot(deps: StatsDeps, plan: SnapshotPlan, caller: Caller) -> tuple[StatsSnapshotRow, Snapshot]:
    """Read and decrypt the planned population in worker processes and fold it into cells (no transaction).

    Every customer read is audited (one bulk entry, durable before this returns); the row is the caller's to
    store (:meth:`StatsService.store`).
    """
    reference = plan.at.date()
    subjects = SubjectList()
    cells: dict[Cell, int] = {}
    spend_of = await deps.spend(reference) if deps.spend is not None else None
    spend: dict[Cell, list[int]] | None = {} if spend_of is not None else None
    executor = executor_for(plan.total, deps.keyring.provider)
    try:
        for future in [asyncio.wrap_future(f) for f in run_all(executor, plan.tasks)]:
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
                           created_at=plan.at, created_by=caller.actor.name,
                           cells=json.dumps([[*k, v] for k, v in sorted(cells.items())], ensure_ascii=False),
                           spend=None if spend is None else json.dumps(
                               [[*k, sorted(v)] for k, v in sorted(spend.items())], ensure_ascii=False))
    measures = f" measures=spend/{SPEND_WINDOW_DAYS}d" if spend is not None else ""
    event = AuditEvent("stats.snapshot", Outcome.ALLOWED, caller.actor, purpose=ANALYTICS,
                       fields=plan.fields, request_id=caller.request_id, client_ip=caller.client_ip,
                       detail=f"snapshot={row.id} customers={count} cells={len(cells)}{measures}")
    await deps.guard.audit.record_bulk_durable(event, subjects)
    return row, Snapshot(row.id, plan.at, row.reference_date, count, cells)


def answer(query: StatsQuery, left: float) -> NoisyCounts | NoisySums:
    """Draw the noisy answer to a charged query (``left``: the project's ε after the charge)."""
    snapshot, by, filters, epsilon = query.snapshot, query.by, query.filters, query.epsilon
    if query.stat == "count":
        keys, true = _group(snapshot.cells, by, filters)
        noisy, scale = noisy_counts(true, epsilon)
        groups = [{**dict(zip(by, key, strict=True)), "count": n} for key, n in zip(keys, noisy, strict=True)]
        return NoisyCounts(list(by), filters, groups, epsilon, scale, left, snapshot)
    assert query.spend is not None and query.measure is not None
    bound = query.upper
    clamped = {cell: int(np.minimum(values, bound).sum()) for cell, values in query.spend.items()}
    keys, true_sums = _group(clamped, by, filters)
    labels = [dict(zip(by, key, strict=True)) for key in keys]
    if query.stat == "sum":
        noisy, scale = noisy_sums(true_sums, epsilon, bound)
        groups = [{**lab, "sum": n} for lab, n in zip(labels, noisy, strict=True)]
        return NoisySums(query.measure, list(by), filters, groups, epsilon, 0, bound, scale, None, left, snapshot)
    _, true_counts = _group(snapshot.cells, by, filters)
    m = noisy_means(true_sums, true_counts, epsilon, bound)
    groups = [{**lab, "mean": mean, "sum": s, "count": c}
              for lab, mean, s, c in zip(labels, m.means, m.sums, m.counts, strict=True)]
    return NoisySums(query.measure, list(by), filters, groups, epsilon, 0, bound, m.sum_scale, m.count_scale, left,
                     snapshot)


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
