"""Extract specs: strict parsing with the key at fault, and resolution against the real catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault.policy.catalogue import load_catalogue
from vault.policy.purposes import load_purposes
from vault.privacy.errors import DirectIdentifierError, ExtractSpecError
from vault.privacy.spec import ExtractSpec, RangeFilter, load_spec, parse_spec, resolve
from vault.privacy.writer import output_format

POLICIES = Path(__file__).resolve().parents[3] / "policies"
PURPOSES = load_purposes(POLICIES / "purposes.yaml")
CATALOGUE = load_catalogue(POLICIES / "pii.yaml", PURPOSES)


def _spec(**over: object) -> ExtractSpec:
    doc: dict[str, object] = {"project": "churn-2026", "quasi_identifiers": ["birth_date", "gender"]}
    doc.update(over)
    return parse_spec(doc)


def test_defaults() -> None:
    spec = _spec()
    assert (spec.purpose, spec.k, spec.l, spec.pseudonym_column) == ("analytics", 5, 1, "pseudonym")
    plan = resolve(spec, CATALOGUE, PURPOSES)
    assert [(q.field, q.ladder) for q in plan.quasi_identifiers] == [
        ("birth_date", ("year", "band5", "band10")), ("gender", ("value",))]
    assert plan.columns == ["pseudonym", "birth_date", "gender"]
    assert plan.fields == {"birth_date", "gender"}


def test_three_shapes_of_column_lists() -> None:
    as_map = _spec(quasi_identifiers={"birth_date": "band5", "postal_code": {"generalize": "prefix3", "max": "*"}})
    as_list = _spec(quasi_identifiers=[{"field": "birth_date", "generalize": "band5"},
                                       {"field": "postal_code", "generalize": "prefix3", "max": "*"}])
    assert as_map == as_list
    plan = resolve(as_map, CATALOGUE, PURPOSES)
    assert [q.ladder for q in plan.quasi_identifiers] == [("band5", "band10"), ("prefix3", "region", "*")]


@pytest.mark.parametrize(("over", "needle"), [
    ({"k": 1}, "k: must be at least 2"),
    ({"k": 0}, "k: must be at least 2"),
    ({"l": 0}, "l: "),
    ({"k": "many"}, "k: "),
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"quasi_identifiers": []}, "quasi_identifiers: "),
    ({"quasi_identifiers": [{"field": "gender", "level": "x"}]}, "unknown key 'quasi_identifiers[0].level'"),
    ({"pseudonym_column": "bad name"}, "pseudonym_column: must be a column name"),
    ({"project": ""}, "project: "),
    ({"max_suppression": 2}, "max_suppression: "),
    ({"filters": {"birth_date": {"from": "2000-01-01", "to": "1990-01-01"}}}, "filters.birth_date"),
])
def test_bad_specs_name_the_key(over: dict[str, object], needle: str) -> None:
    with pytest.raises(ExtractSpecError) as info:
        _spec(**over)
    assert needle in info.value.detail
    assert "\n" not in info.value.detail


def test_missing_project_is_named() -> None:
    with pytest.raises(ExtractSpecError, match="project: required key is missing"):
        parse_spec({"quasi_identifiers": ["gender"]})
    with pytest.raises(ExtractSpecError, match="expected a mapping"):
        parse_spec(["project"])


@pytest.mark.parametrize("field", ["name", "email", "phone", "address_line", "rrn", "customer_ref"])
@pytest.mark.parametrize("where", ["quasi_identifiers", "sensitive_attributes", "filters"])
def test_direct_identifiers_are_refused(field: str, where: str) -> None:
    over: dict[str, object] = {where: {field: ["x"]} if where == "filters" else [field]}
    with pytest.raises(DirectIdentifierError, match=f"'{field}' is a direct identifier"):
        resolve(_spec(**over), CATALOGUE, PURPOSES)


@pytest.mark.parametrize(("over", "needle"), [
    ({"purpose": "nope"}, "purpose: unknown purpose 'nope'"),
    ({"purpose": "fraud_prevention"}, "does not use field 'birth_date'"),
    ({"quasi_identifiers": ["shoe_size"]}, "unknown field 'shoe_size'"),
    ({"quasi_identifiers": [{"field": "birth_date", "generalize": "prefix3"}]}, "quasi_identifiers[0].generalize"),
    ({"quasi_identifiers": [{"field": "birth_date", "generalize": "band10", "max": "year"}]}, "is finer than"),
    ({"quasi_identifiers": ["gender", "gender"]}, "already used"),
    ({"sensitive_attributes": ["gender"]}, "already used"),
    ({"pseudonym_column": "gender"}, "also a data column"),
])
def test_catalogue_errors(over: dict[str, object], needle: str) -> None:
    with pytest.raises(ExtractSpecError) as info:
        resolve(_spec(**over), CATALOGUE, PURPOSES)
    assert needle in info.value.detail


def test_filters_accept_yaml_dates_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("project: p\nquasi_identifiers: [gender]\nfilters:\n  city: 부산광역시\n"
                    "  birth_date: {from: 1970-01-01, to: 1999-12-31}\nreference_date: 2026-01-01\n",
                    encoding="utf-8")
    spec, digest = load_spec(path)
    assert len(digest) == 64
    assert spec.filters["city"] == ("부산광역시",)
    rng = spec.filters["birth_date"]
    assert isinstance(rng, RangeFilter) and rng.accepts("1985-03-02") and not rng.accepts("2001-01-01")


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ExtractSpecError, match="cannot read spec"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("project: [unclosed\n", encoding="utf-8")
    with pytest.raises(ExtractSpecError, match="not valid YAML"):
        load_spec(bad)


def test_output_format_from_suffix() -> None:
    assert output_format(Path("x.csv")) == "csv"
    assert output_format(Path("x.PARQUET")) == "parquet"
    with pytest.raises(ExtractSpecError, match=r"\.csv or \.parquet"):
        output_format(Path("x.xlsx"))


def test_documented_example_spec_is_valid() -> None:
    spec, _ = load_spec(POLICIES.parent / "docs" / "examples" / "extract-spec.yaml")
    plan = resolve(spec, CATALOGUE, PURPOSES)
    assert plan.columns == ["pseudonym", "birth_date", "postal_code", "gender", "city"]
    assert spec.k == 5 and spec.l == 2
