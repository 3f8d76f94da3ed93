"""The feature engine against an in-memory source of per-customer rows: RFM quintiles, tiers, quadrants,
labels, and groups read only when an expression needs them (no database)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from tests.unit.fakes import keyring, policies
from vault.policy.purposes import Purpose
from vault.segments.features import SNAPSHOT_GROUPS, FeatureEngine, day_number

AS_OF = date(2026, 3, 1)
D = day_number(AS_OF)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def cid(n: int) -> str:
    return uuid.UUID(int=n).hex


class FakeSource:
    """Rows as the repository returns them; ``asked`` records which queries ran."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.people: list[tuple[str, bool, bool]] = []
        self.bought: list[tuple[Any, ...]] = []
        self.consents: dict[str, list[str]] = {}
        self.contacts: list[str] = []
        self.label_rows: list[tuple[str, str]] = []
        self.interaction_rows: list[tuple[Any, ...]] = []

    async def population(self) -> Sequence[Sequence[Any]]:
        self.asked.append("population")
        return self.people

    async def behaviour(self, day: int) -> Sequence[Sequence[Any]]:
        assert day == D
        self.asked.append("behaviour")
        return self.bought

    async def instants(self, day: int) -> Sequence[Sequence[Any]]:
        self.asked.append("instants")
        return []

    async def interactions(self, day: int) -> Sequence[Sequence[Any]]:
        self.asked.append("interactions")
        return self.interaction_rows

    async def consenting(self, purpose: Purpose, now: datetime) -> list[str]:
        self.asked.append(f"consent:{purpose.id}")
        return self.consents.get(purpose.id, [])

    async def reachable(self) -> list[str]:
        self.asked.append("reachable")
        return self.contacts

    async def labels(self, labels: Sequence[str]) -> Sequence[Sequence[Any]]:
        self.asked.append("labels")
        return [r for r in self.label_rows if r[1] in labels]

    async def sealed_page(self, after: uuid.UUID | None, limit: int) -> Sequence[Sequence[Any]]:
        self.asked.append("demographics")
        return []


def engine() -> FeatureEngine:
    return FeatureEngine(keyring(), policies().purposes, clock=lambda: NOW)


def purchases(n: int, frequency: int, monetary: int, last_days_ago: int, *, returned: int = 0) -> tuple[Any, ...]:
    """One customer's aggregates: ``frequency`` purchases worth ``monetary`` in the window, the last one
    ``last_days_ago`` days before as-of, the first a year before, no purchases outside the window."""
    return (cid(n), frequency, monetary, frequency + returned, returned, D - last_days_ago, D - 360, frequency,
            monetary)


def by_id(frame: pl.DataFrame, column: str) -> dict[int, Any]:
    return {uuid.UUID(hex=k).int: v for k, v in zip(frame["customer_id"], frame[column], strict=True)}


async def test_rfm_scores_are_quintiles_among_buyers_and_non_buyers_have_none() -> None:
    src = FakeSource()
    src.people = [(cid(n), False, False) for n in range(1, 7)]
    src.bought = [purchases(1, 10, 900_000, 3), purchases(2, 8, 500_000, 10), purchases(3, 6, 300_000, 30),
                  purchases(4, 4, 200_000, 90), purchases(5, 2, 100_000, 200, returned=2)]
    table = await engine().compute(src, AS_OF)
    f = table.frame
    assert table.population == 6 and src.asked == ["population", "behaviour"]
    assert by_id(f, "m_score") == {1: 5, 2: 4, 3: 3, 4: 2, 5: 1, 6: None}
    assert by_id(f, "r_score") == {1: 5, 2: 4, 3: 3, 4: 2, 5: 1, 6: None}
    assert by_id(f, "rfm")[1] == "555" and by_id(f, "rfm")[6] is None
    assert by_id(f, "frequency")[6] == 0 and by_id(f, "recency_days")[4] == 90
    assert by_id(f, "return_ratio")[5] == 0.5 and by_id(f, "return_ratio")[6] is None
    churn = by_id(f, "churn_risk")
    assert churn[1] < churn[3] < churn[5] and churn[6] is None


async def test_tiers_need_a_reachable_consenting_customer_and_top_scores_for_core() -> None:
    src = FakeSource()
    src.people = [(cid(1), False, False), (cid(2), True, False), (cid(3), False, True), (cid(4), False, False),
                  (cid(5), False, False), (cid(6), False, False)]
    src.bought = [purchases(n, 12 - n, 1_000_000 - n * 100_000, n) for n in range(1, 6)]
    src.contacts = [cid(n) for n in (1, 2, 3, 5, 6)]
    src.consents = {"marketing_email": [cid(n) for n in (1, 2, 3, 4, 5)]}
    table = await engine().compute(src, AS_OF, SNAPSHOT_GROUPS)
    tiers = by_id(table.frame, "tier")
    # 1: top scores, reachable, consenting -> core; 2: restricted, 3: objected, 4: no contact -> general;
    # 5: reachable and consenting, low scores -> identified; 6: reachable, no consent -> general
    assert tiers == {1: "core", 2: "general", 3: "general", 4: "general", 5: "identified", 6: "general"}
    assert by_id(table.frame, "contactable") == {1: True, 2: False, 3: False, 4: False, 5: True, 6: False}
    assert "demographics" not in src.asked and "labels" not in src.asked


async def test_quadrants_combine_value_and_service_experience() -> None:
    src = FakeSource()
    src.people = [(cid(n), False, False) for n in range(1, 6)]
    src.bought = [purchases(n, 12 - n, 1_000_000 - n * 100_000, n) for n in range(1, 6)]
    # (id, interactions, complaints, return contacts, satisfaction sum, scored): 2 complained twice, 4 is happy,
    # 5 complained once; no contact at all is a neutral (good enough) experience
    src.interaction_rows = [(cid(2), 3, 2, 0, 6, 2), (cid(4), 1, 0, 0, 5, 1), (cid(5), 1, 1, 0, None, 0)]
    table = await engine().compute(src, AS_OF, {"quadrant"})
    assert by_id(table.frame, "quadrant") == {1: "loyal", 2: "at_risk_valuable", 3: "low_value",
                                              4: "low_value", 5: "cost_to_serve"}
    assert by_id(table.frame, "experience_score") == {1: 60.0, 2: 40.0, 3: 60.0, 4: 100.0, 5: 50.0}


async def test_labels_from_any_department_are_flags() -> None:
    src = FakeSource()
    src.people = [(cid(n), False, False) for n in range(1, 4)]
    src.label_rows = [(cid(1), "blacklist"), (cid(1), "vip"), (cid(2), "do_not_contact")]
    table = await engine().compute(src, AS_OF, {"labels"})
    assert by_id(table.frame, "label.blacklist") == {1: True, 2: False, 3: False}
    assert by_id(table.frame, "label.do_not_contact") == {1: False, 2: True, 3: False}
    assert "demographics" not in src.asked
