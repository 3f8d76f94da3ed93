"""The phone mask's fast path for Korean E.164 numbers gives exactly what libphonenumber's grouping gives."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from vault.policy.masks import mask


def _via_libphonenumber(value: str) -> str:
    national = phonenumbers.format_number(phonenumbers.parse(value, "KR"), phonenumbers.PhoneNumberFormat.NATIONAL)
    groups = national.replace(" ", "-").split("-")
    return "-".join([groups[0], *("*" * len(g) for g in groups[1:-1]), groups[-1]])


@pytest.mark.parametrize(("value", "masked"), [
    ("+821023456789", "010-****-6789"),
    ("+82112345678", "011-***-5678"),
    ("+8223456789", "02-***-6789"),
    ("+82212345678", "02-****-5678"),
    ("+82311234567", "031-***-4567"),
    ("+82641234567", "064-***-4567"),
])
def test_known_numbers(value: str, masked: str) -> None:
    assert mask("phone", value) == masked


@pytest.mark.parametrize("area", ["10", "11", "16", "17", "18", "19", "2", "31", "32", "33", "41", "42", "43", "44",
                                  "51", "52", "53", "54", "55", "61", "62", "63", "64"])
def test_fast_path_matches_libphonenumber(area: str) -> None:
    rng = random.Random(area)
    for _ in range(100):
        middle = "".join(rng.choice("0123456789") for _ in range(rng.choice((3, 4))))
        value = f"+82{area}{middle}{rng.randrange(10_000):04d}"
        assert mask("phone", value) == _via_libphonenumber(value), value


def test_other_forms_still_go_through_libphonenumber() -> None:
    assert mask("phone", "+14155550123") == "(415)-***-0123"
    assert mask("phone", "+827012345678") == "070-****-5678"
