"""k-anonymity / l-diversity on random data: the guarantee must hold whatever the data and seed."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest

from vault.privacy.anonymize import anonymize

REF = date(2026, 1, 1)
BIRTH = ("year", "band5", "band10")
POSTAL = ("prefix3", "region")
CITIES = ["서울특별시", "부산광역시", "경기도", "대구광역시", "인천광역시", "광주광역시", "제주특별자치도"]


def _population(seed: int, n: int) -> dict[str, list[str | None]]:
    rng = random.Random(seed)
    skew = rng.random()  # different seeds give differently shaped data, not one tuned set
    out: dict[str, list[str | None]] = {"birth_date": [], "gender": [], "postal_code": [], "city": []}
    for _ in range(n):
        born = date(1940, 1, 1) + timedelta(days=int(rng.triangular(0, 30000, 30000 * skew)))
        out["birth_date"].append(None if rng.random() < 0.03 else born.isoformat())
        out["gender"].append(rng.choice("FFMMX") if rng.random() > 0.02 else None)
        out["postal_code"].append(f"{rng.randint(1000, 63999):05d}")
        out["city"].append(rng.choice(CITIES[: rng.randint(2, len(CITIES))]))
    return out


def _classes(result_columns: dict[str, list[str | None]], names: list[str], kept: list[int]) -> Counter[tuple]:
    return Counter(tuple(result_columns[n][i] for n in names) for i in kept)


@pytest.mark.parametrize("seed", [1, 7, 42, 1234, 99991])
@pytest.mark.parametrize("k", [2, 5, 11])
def test_every_released_class_has_at_least_k_rows(seed: int, k: int) -> None:
    data = _population(seed, random.Random(seed).randint(200, 3000))
    rows = len(data["gender"])
    qis = [("birth_date", data["birth_date"], BIRTH), ("gender", data["gender"], ("value", "*")),
           ("postal_code", data["postal_code"], POSTAL)]
    result = anonymize(qis, [], k=k, max_suppression=0.05, reference=REF)
    classes = _classes(result.columns, ["birth_date", "gender", "postal_code"], result.kept)
    assert all(n >= k for n in classes.values())
    assert result.suppressed == rows - len(result.kept)
    assert result.classes == len(classes)
    if result.kept:
        assert result.min_class_size == min(classes.values())
    # either the loop stopped within the suppression budget, or every attribute is at its top rung
    at_top = result.levels == {"birth_date": "band10", "gender": "*", "postal_code": "region"}
    assert result.suppressed <= int(0.05 * rows) or at_top


@pytest.mark.parametrize("seed", [3, 17, 2024])
@pytest.mark.parametrize("l_div", [2, 3])
def test_l_diversity_holds_on_every_released_class(seed: int, l_div: int) -> None:
    data = _population(seed, 2000)
    qis = [("birth_date", data["birth_date"], BIRTH), ("postal_code", data["postal_code"], POSTAL)]
    sensitive = [data["gender"], data["city"]]
    result = anonymize(qis, sensitive, k=4, l_div=l_div, max_suppression=0.02, reference=REF)
    seen: dict[tuple, list[set[str]]] = defaultdict(lambda: [set(), set()])
    for i in result.kept:
        key = (result.columns["birth_date"][i], result.columns["postal_code"][i])
        for j, column in enumerate(sensitive):
            if column[i] is not None:
                seen[key][j].add(column[i])  # type: ignore[arg-type]
    assert seen, "something should survive on 2,000 rows"
    assert all(len(s) >= l_div for sets in seen.values() for s in sets)
    assert result.min_diversity is not None and result.min_diversity >= l_div


def test_no_climbing_when_already_k_anonymous() -> None:
    data = ["1980-05-05"] * 10 + ["1990-05-05"] * 10
    result = anonymize([("birth_date", data, BIRTH)], [], k=5, reference=REF)
    assert result.levels == {"birth_date": "year"}
    assert result.suppressed == 0
    assert result.climbs == []


def test_climbs_the_attribute_with_most_distinct_values_first() -> None:
    births = [f"{1950 + i % 40}-01-01" for i in range(400)]  # 40 distinct years
    genders = ["F", "M"] * 200                                 # 2 distinct values
    result = anonymize([("gender", genders, ("value", "*")), ("birth_date", births, BIRTH)], [], k=15,
                       max_suppression=0.1, reference=REF)
    assert [c.field for c in result.climbs] == ["birth_date"]
    assert result.levels == {"gender": "value", "birth_date": "band5"}
    assert result.suppressed == 30  # the partial bands at both ends: within the 10% budget, so no further climb


def test_suppresses_what_the_ladder_cannot_fix() -> None:
    cities = ["서울특별시"] * 20 + ["제주특별자치도"] * 2
    result = anonymize([("city", cities, ("value",))], [], k=5, reference=REF)
    assert result.suppressed == 2
    assert len(result.kept) == 20
    assert result.min_class_size == 20


def test_everything_suppressed_and_empty_input() -> None:
    result = anonymize([("city", ["a", "b", "c"], ("value",))], [], k=5, reference=REF)
    assert result.kept == [] and result.suppressed == 3 and result.min_class_size is None
    empty = anonymize([("city", [], ("value",))], [], k=5, reference=REF)
    assert empty.kept == [] and empty.suppressed == 0 and empty.classes == 0


def test_l_diversity_suppresses_homogeneous_classes() -> None:
    births = ["1980-01-01"] * 6 + ["1990-01-01"] * 6
    sensitive = [["F"] * 6 + ["F", "M", "F", "M", "X", "F"]]
    result = anonymize([("birth_date", births, ("year",))], sensitive, k=3, l_div=2, reference=REF)
    assert result.suppressed == 6  # the 1980 class has one gender only
    assert result.min_diversity == 3
