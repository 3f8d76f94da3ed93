"""DP statistics against in-memory stores: admission, the ε charge and its refusal, the snapshot cache, answers."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.unit.fakes import caller
from tests.unit.privacy.fakes import DAY, Analysts
from vault.access.errors import PermissionDeniedError
from vault.audit.entry import Outcome
from vault.privacy.dp import DOMAINS, NoisyCounts, NoisySums, answer
from vault.privacy.errors import NoSnapshotError, NotAMemberError, StatsQueryError
from vault.privacy.models import StatsSnapshotRow

OFFICER = caller("compliance_officer", "analytics")
ANALYST = caller("analyst", "analytics")
assert ANALYST.principal is not None
CELLS = [["30-34", "서울특별시", "F", 40], ["30-34", "서울특별시", "M", 25], ["60-64", "부산광역시", "F", 7]]


@pytest.fixture
async def a() -> Analysts:
    a = Analysts()
    assert ANALYST.principal is not None
    await a.projects().create("study", OFFICER, epsilon_budget=0.25, members=[ANALYST.principal.id])
    return a


def _snapshot(a: Analysts, *, spend: bool = True) -> uuid.UUID:
    sid = uuid.uuid4()
    a.snapshots.rows.append(StatsSnapshotRow(
        id=sid, purpose="analytics", reference_date=DAY.date().isoformat(), customers=72, created_at=a.now,
        created_by="t", cells=json.dumps(CELLS),
        spend=json.dumps([[*c[:3], [1000] * int(c[3])] for c in CELLS]) if spend else None))
    return sid


async def test_a_query_charges_its_epsilon_with_a_ledger_row_and_an_audit_entry(a: Analysts) -> None:
    sid = _snapshot(a)
    query = await a.stats().admit("count", "study", ["gender"], {"age_band": "30-34"}, 0.1, ANALYST)
    charged = await a.stats().charge(query, ANALYST)
    assert charged.refusal is None and charged.left == pytest.approx(0.15)
    (spend,) = a.projects_store.spent
    assert (spend.epsilon, spend.query) == (0.1, "counts by=gender filter=age_band:30-34 epsilon=0.1")
    created, entry = a.w.audit.written
    assert created.action == "project.create"
    assert (entry.action, entry.outcome, entry.purpose) == ("stats.count", Outcome.ALLOWED, "analytics")
    assert entry.detail is not None and entry.detail.endswith(f"snapshot={sid}")


async def test_a_query_beyond_the_budget_is_refused_and_charges_nothing(a: Analysts) -> None:
    _snapshot(a)
    svc = a.stats()
    lefts = []
    for _ in range(3):
        charged = await svc.charge(await svc.admit("count", "study", ["gender"], {}, 0.1, ANALYST), ANALYST)
        lefts.append(charged.left)
    assert lefts[:2] == pytest.approx([0.15, 0.05]) and lefts[2] is None
    assert charged.refusal is not None
    assert charged.refusal.extra["epsilon_remaining"] == pytest.approx(0.05)
    assert charged.refusal.extra["epsilon_requested"] == 0.1
    assert "budget exhausted" in charged.context
    project = next(iter(a.projects_store.rows.values()))
    assert project.epsilon_spent == pytest.approx(0.2) and len(a.projects_store.spent) == 2
    assert [e.action for e in a.w.audit.written] == ["project.create", "stats.count", "stats.count"]
    assert not a.w.audit.durable  # the runner records the refusal after the write transaction


async def test_admission_checks_permission_query_snapshot_and_membership_in_that_order(a: Analysts) -> None:
    marketing = caller("marketing", "analytics")
    with pytest.raises(PermissionDeniedError):
        await a.stats().admit("count", "study", ["gender"], {}, 0.1, marketing)
    with pytest.raises(StatsQueryError):
        await a.stats().admit("count", "study", ["shoe_size"], {}, 0.1, ANALYST)
    with pytest.raises(StatsQueryError):
        await a.stats().admit("count", "study", ["gender"], {}, 1.5, ANALYST)
    stranger = caller("analyst", "analytics")
    with pytest.raises(NoSnapshotError):
        await a.stats().admit("count", "study", ["gender"], {}, 0.1, stranger)
    _snapshot(a, spend=False)
    with pytest.raises(NotAMemberError):
        await a.stats().admit("count", "study", ["gender"], {}, 0.1, stranger)
    with pytest.raises(NoSnapshotError):  # a snapshot without spend answers no sums
        await a.stats().admit("sum", "study", ["gender"], {}, 0.1, ANALYST, measure="spend")
    with pytest.raises(StatsQueryError):
        await a.stats().admit("sum", "study", ["gender"], {}, 0.1, ANALYST, measure="spend", upper=0)
    assert [(e.action, e.outcome) for e in a.w.audit.durable] == [
        ("stats.count", Outcome.DENIED), ("stats.count", Outcome.DENIED)]
    assert not a.projects_store.spent


async def test_the_snapshot_is_cached_per_process_until_a_newer_one_exists(a: Analysts) -> None:
    first = _snapshot(a)
    assert (await a.stats().latest()).id == first
    reads = a.snapshots.reads
    assert (await a.stats().latest()).id == first and a.snapshots.reads == reads  # trusted for a moment
    a.stats_deps.cache.checked = 0.0
    second = _snapshot(a)
    assert (await a.stats().latest()).id == second


async def test_answers_cover_the_whole_public_domain_and_carry_what_is_left(a: Analysts) -> None:
    _snapshot(a)
    count = await a.stats().admit("count", "study", ["gender"], {"region": "서울특별시"}, 1.0, ANALYST)
    counts = answer(count, 0.5)
    assert isinstance(counts, NoisyCounts) and counts.epsilon_remaining == 0.5 and counts.scale == 1.0
    assert [g["gender"] for g in counts.groups] == list(DOMAINS["gender"])
    mean = await a.stats().admit("mean", "study", ["gender"], {}, 1.0, ANALYST, measure="spend", upper=500)
    means = answer(mean, 0.0)
    assert isinstance(means, NoisySums) and means.upper == 500 and means.count_scale is not None
    assert all(g["mean"] is None or 0 <= g["mean"] <= 500 for g in means.groups)
