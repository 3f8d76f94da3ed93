"""Generalization steps: birth dates, postal codes, categorical values, suppression."""

from __future__ import annotations

from datetime import date

import pytest

from vault.privacy.generalize import POSTAL_REGIONS, SUPPRESS, UNASSIGNED_REGION, age, generalize

REF = date(2026, 6, 15)


@pytest.mark.parametrize(("step", "value", "expected"), [
    ("year", "1985-03-02", "1985"),
    ("band5", "1985-03-02", "40-44"),     # 41 at the reference date
    ("band10", "1985-03-02", "40-49"),
    ("band5", "1986-06-15", "40-44"),     # 40th birthday on the reference date itself
    ("band5", "1986-06-16", "35-39"),     # one day short of 40
    ("band10", "2026-01-01", "0-9"),
    ("band5", "2030-01-01", "0-4"),       # a birth date after the reference date counts as age 0
    ("band5", "1936-06-15", "90+"),       # top-coded
    ("band10", "1900-01-01", "90+"),
    ("prefix3", "48058", "480"),
    ("region", "48058", "부산광역시"),
    ("region", "06236", "서울특별시"),
    ("region", "13494", "경기도"),
    ("region", "30100", "세종특별자치시"),
    ("region", "63309", "제주특별자치도"),
    ("region", "19999", UNASSIGNED_REGION),
    ("region", "99999", UNASSIGNED_REGION),
    ("value", "부산광역시", "부산광역시"),
    ("value", "F", "F"),
])
def test_steps(step: str, value: str, expected: str) -> None:
    assert generalize(step, value, REF) == expected


@pytest.mark.parametrize("step", ["year", "band5", "band10", "prefix3", "region", "value"])
def test_missing_stays_missing_and_suppression_hides_everything(step: str) -> None:
    assert generalize(step, None, REF) is None
    assert generalize(step, "", REF) is None
    assert generalize(SUPPRESS, None, REF) == SUPPRESS
    assert generalize(SUPPRESS, "1985-03-02", REF) == SUPPRESS


def test_unparseable_dates_are_missing_not_leaked() -> None:
    assert generalize("year", "not-a-date", REF) is None
    assert generalize("band5", "1985-02-30", REF) is None


def test_age_counts_completed_years() -> None:
    assert age(date(2000, 2, 29), date(2026, 2, 28)) == 25
    assert age(date(2000, 2, 29), date(2026, 3, 1)) == 26


def test_every_region_prefix_is_two_digits_and_named() -> None:
    assert len(POSTAL_REGIONS) == 59
    assert all(len(p) == 2 and p.isdigit() for p in POSTAL_REGIONS)
    assert len(set(POSTAL_REGIONS.values())) == 17  # 17 시/도
