"""k-anonymity / l-diversity on random data: the guarantee must hold whatever the data and seed."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest

from tests.extract_checker import check_release
from vault.privacy.anonymize import anonymize
from vault.privacy.errors import TargetUnmeetableError

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
    try:
        result = anonymize(qis, [], k=k, max_suppression=0.05, reference=REF)
    except TargetUnmeetableError as exc:  # then even the top of every ladder leaves too many small classes
        refusal = exc.extra
        assert refusal["levels"] == {"birth_date": "band10", "gender": "*", "postal_code": "region"}
        assert refusal["failing_rows"] > int(0.05 * rows)
        return
    classes = _classes(result.columns, ["birth_date", "gender", "postal_code"], list(result.kept))
    assert all(n >= k for n in classes.values())
    assert result.suppressed == rows - len(result.kept)
    assert result.classes == len(classes)
    if len(result.kept):
        assert result.min_class_size == min(classes.values())
    assert result.suppressed <= int(0.05 * rows)  # never above the budget


@pytest.mark.parametrize("seed", [3, 17, 2024])
@pytest.mark.parametrize("l_div", [2, 3])
def test_l_diversity_holds_on_every_released_class(seed: int, l_div: int) -> None:
    data = _population(seed, 2000)
    qis = [("birth_date", data["birth_date"], BIRTH), ("postal_code", data["postal_code"], POSTAL)]
    sensitive = [data["gender"], data["city"]]
    result = anonymize(qis, sensitive, k=4, l_div=l_div, max_suppression=0.2, reference=REF)
    seen: dict[tuple, list[set[str]]] = defaultdict(lambda: [set(), set()])
    for i in result.kept:
        key = (result.columns["birth_date"][i], result.columns["postal_code"][i])
        for j, column in enumerate(sensitive):
            if column[i] is not None:
                seen[key][j].add(column[i])  # type: ignore[arg-type]
    assert seen, "something should survive on 2,000 rows"
    assert all(len(s) >= l_div for sets in seen.values() for s in sets)
    assert result.min_diversity is not None and result.min_diversity >= l_div
    assert result.suppressed <= int(0.2 * 2000)


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


def test_suppresses_what_the_ladder_cannot_fix_within_the_budget() -> None:
    cities = ["서울특별시"] * 20 + ["제주특별자치도"] * 2
    result = anonymize([("city", cities, ("value",))], [], k=5, max_suppression=0.1, reference=REF)
    assert result.suppressed == 2 and result.suppressed_share == pytest.approx(2 / 22)
    assert len(result.kept) == 20
    assert result.min_class_size == 20


def test_refuses_rather_than_exceed_the_budget() -> None:
    cities = ["서울특별시"] * 20 + ["제주특별자치도"] * 2
    with pytest.raises(TargetUnmeetableError, match=r"2 of 22 rows .* above max_suppression 0.05 \(1 rows\)") as e:
        anonymize([("city", cities, ("value",))], [], k=5, max_suppression=0.05, reference=REF)
    assert e.value.extra["worst_classes"] == [{"class": {"city": "제주특별자치도"}, "rows": 2, "distinct": {},
                                               "fails": ["k"]}]


def test_everything_suppressed_only_when_allowed_and_empty_input() -> None:
    result = anonymize([("city", ["a", "b", "c"], ("value",))], [], k=5, max_suppression=1.0, reference=REF)
    assert list(result.kept) == [] and result.suppressed == 3 and result.min_class_size is None
    with pytest.raises(TargetUnmeetableError):
        anonymize([("city", ["a", "b", "c"], ("value",))], [], k=5, max_suppression=0.5, reference=REF)
    empty = anonymize([("city", [], ("value",))], [], k=5, reference=REF)
    assert list(empty.kept) == [] and empty.suppressed == 0 and empty.classes == 0


def test_l_diversity_suppresses_homogeneous_classes() -> None:
    births = ["1980-01-01"] * 6 + ["1990-01-01"] * 6
    sensitive = [["F"] * 6 + ["F", "M", "F", "M", "X", "F"]]
    result = anonymize([("birth_date", births, ("year",))], sensitive, k=3, l_div=2, max_suppression=0.5,
                       reference=REF)
    assert result.suppressed == 6  # the 1980 class has one gender only
    assert result.min_diversity == 3


def test_names_the_attribute_that_determines_the_sensitive_one() -> None:
    # Postal codes climb to the region, and the region fixes the city: l=2 over city can never hold.
    rng = random.Random(5)
    postal = [f"{rng.choice(['04', '06', '48', '61'])}{rng.randint(100, 999)}" for _ in range(400)]
    city = [{"04": "서울특별시", "06": "서울특별시", "48": "부산광역시", "61": "광주광역시"}[p[:2]] for p in postal]
    births = [f"{rng.randint(1950, 2000)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}" for _ in range(400)]
    with pytest.raises(TargetUnmeetableError) as e:
        anonymize([("birth_date", births, BIRTH), ("postal_code", postal, POSTAL)], [city], k=5, l_div=2,
                  max_suppression=0.05, reference=REF, sensitive_names=["city"])
    blocking = e.value.extra["blocking"]
    assert [b["attribute"] for b in blocking] == ["city"]
    assert [d["field"] for d in blocking[0]["determined_by"]] == ["postal_code"]
    assert "blocked by postal_code" in e.value.detail
    assert all("l:city" in c["fails"] for c in e.value.extra["worst_classes"])


def _skewed(seed: int, n: int) -> list[dict[str, str | None]]:
    """A long-tailed population: centenarians, tiny districts, a rare gender X, missing values."""
    rng = random.Random(seed)
    big = ["강남구", "마포구", "해운대구", "수성구"]
    tiny = ["울릉군", "옹진군", "신안군"]  # a handful of people each
    rows = []
    for _ in range(n):
        r = rng.random()
        if r < 0.01:
            born = date(1918, 1, 1) + timedelta(days=rng.randint(0, 3000))  # centenarians
        else:
            born = date(1950, 1, 1) + timedelta(days=int(rng.triangular(0, 20000, 14000)))
        district = rng.choice(tiny) if rng.random() < 0.004 else rng.choice(big)
        rows.append({
            "birth_date": None if rng.random() < 0.02 else born.isoformat(),
            "gender": "X" if rng.random() < 0.01 else rng.choice("FM"),
            "district": district,
            "city": rng.choice(CITIES[:4]),
            "postal_code": f"{rng.choice(['06', '48', '41', '04', '63'])}{rng.randint(0, 999):03d}",
        })
    return rows


@pytest.mark.parametrize("seed", [2, 13, 777])
@pytest.mark.parametrize(("k", "l_div", "budget"), [(5, 1, 0.01), (5, 2, 0.02), (10, 2, 0.05), (3, 3, 0.0)])
def test_checker_on_skewed_data(seed: int, k: int, l_div: int, budget: float) -> None:
    data = _skewed(seed, 3000)
    qis = [("birth_date", [r["birth_date"] for r in data], ("year", "band5", "band10")),
           ("gender", [r["gender"] for r in data], ("value", "*")),
           ("district", [r["district"] for r in data], ("value", "*")),
           ("postal_code", [r["postal_code"] for r in data], ("prefix3", "region"))]
    sens = [[r["city"] for r in data]]
    try:
        result = anonymize(qis, sens, k=k, l_div=l_div, max_suppression=budget, reference=REF,
                           sensitive_names=["city"])
    except TargetUnmeetableError as exc:  # refusing is the other valid answer
        refusal = exc.extra
        assert refusal["failing_rows"] > int(budget * 3000)
        return
    released = [{"pseudonym": str(i), **{name: result.columns[name][i] for name, _, _ in qis}, "city": sens[0][i]}
                for i in result.kept]
    manifest = {"quasi_identifiers": [q[0] for q in qis], "sensitive_attributes": ["city"], "k": k, "l": l_div,
                "rows": len(released), "suppressed_rows": result.suppressed, "eligible_customers": 3000,
                "max_suppression": budget, "suppressed_share": result.suppressed_share, "pseudonym_column": "pseudonym"}
    assert check_release(released, manifest) == []
    # the rare values are generalized away or suppressed, never released on their own
    assert not any(r["district"] in ("울릉군", "옹진군", "신안군") for r in released) or k <= 3
    if result.levels["birth_date"] != "year":
        assert not any(r["birth_date"] and r["birth_date"].startswith("1") and len(r["birth_date"]) == 4
                       for r in released)


def test_checker_catches_a_broken_release() -> None:
    rows = [{"p": "a", "age": "30-34", "city": "서울"}, {"p": "b", "age": "30-34", "city": "서울"},
            {"p": "c", "age": "90+", "city": "부산"}]
    manifest = {"quasi_identifiers": ["age"], "sensitive_attributes": ["city"], "k": 2, "l": 2, "rows": 3,
                "suppressed_rows": 2, "eligible_customers": 5, "max_suppression": 0.2, "pseudonym_column": "p"}
    problems = check_release(rows, manifest)
    assert any("< k=2" in p for p in problems) and any("< l=2" in p for p in problems)
    assert any("max_suppression bound 1" in p for p in problems)


@pytest.mark.parametrize("with_missing", [True, False])
def test_factorize_large_columns_round_trip(with_missing: bool) -> None:
    from vault.privacy.anonymize import factorize

    rng = random.Random(3)
    values = [None if with_missing and rng.random() < 0.1 else rng.choice(CITIES) for _ in range(25_000)]
    codes, uniques = factorize(values, len(values))
    assert [uniques[c] for c in codes] == values
    assert len(set(uniques)) == len(uniques)


def test_large_release_holds_the_guarantee() -> None:
    data = _skewed(99, 30_000)
    qis = [("birth_date", [r["birth_date"] for r in data], ("band5", "band10")),
           ("gender", [r["gender"] for r in data], ("value", "*")),
           ("postal_code", [r["postal_code"] for r in data], ("prefix3", "region"))]
    result = anonymize(qis, [[r["city"] for r in data]], k=5, l_div=2, max_suppression=0.02, reference=REF,
                       sensitive_names=["city"])
    released = [{"pseudonym": str(i), **{name: result.columns[name][i] for name, _, _ in qis}, "city": data[i]["city"]}
                for i in result.kept]
    manifest = {"quasi_identifiers": [q[0] for q in qis], "sensitive_attributes": ["city"], "k": 5, "l": 2,
                "rows": len(released), "suppressed_rows": result.suppressed, "eligible_customers": 30_000,
                "max_suppression": 0.02, "pseudonym_column": "pseudonym"}
    assert check_release(released, manifest) == []
