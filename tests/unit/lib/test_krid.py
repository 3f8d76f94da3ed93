"""Registration-number rules (vault.lib.krid): structure refused, check digit reported, never guessed."""

from __future__ import annotations

import datetime as dt

import pytest

from vault.lib import krid

TODAY = dt.date(2026, 11, 25)


def with_check(body: str, *, valid: bool = True) -> str:
    """``body`` (12 digits) plus a last digit that does (or does not) satisfy the RRN check."""
    ok = next(d for d in "0123456789" if krid.rrn_checksum_ok(body + d))
    return body + (ok if valid else str((int(ok) + 1) % 10))


@pytest.mark.parametrize(
    ("value", "kind", "born", "check"),
    [
        # issued before October 2020 with its check digit
        (with_check("900101123456"), krid.Kind.RESIDENT, dt.date(1990, 1, 1), krid.CheckDigit.VALID),
        # born 1985, number re-issued in 2022: random back digits, the old check fails
        (with_check("850315234567", valid=False), krid.Kind.RESIDENT, dt.date(1985, 3, 15),
         krid.CheckDigit.UNVERIFIED),
        # born 1950, re-issued: also kept
        (with_check("501224187654", valid=False), krid.Kind.RESIDENT, dt.date(1950, 12, 24),
         krid.CheckDigit.UNVERIFIED),
        # born after the change: never had a check digit
        (with_check("210315412345", valid=False), krid.Kind.RESIDENT, dt.date(2021, 3, 15), krid.CheckDigit.NONE),
        (with_check("020704312345", valid=False), krid.Kind.RESIDENT, dt.date(2002, 7, 4),
         krid.CheckDigit.UNVERIFIED),
        # foreigners (G 5-8): their own check rule
        ("9001015000003", krid.Kind.FOREIGNER, dt.date(1990, 1, 1), None),
    ],
)
def test_parse_accepts_possible_numbers(value: str, kind: krid.Kind, born: dt.date,
                                        check: krid.CheckDigit | None) -> None:
    number = krid.parse(f"{value[:6]}-{value[6:]}", today=TODAY)
    assert number.kind is kind
    assert number.birth_date == born
    assert number.formatted == f"{value[:6]}-{value[6:]}"
    if check is not None:
        assert number.check_digit is check
    assert krid.parse(value, today=TODAY) == number  # without the hyphen
    assert krid.parse(f"{value[:6]} - {value[6:]}", today=TODAY) == number


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("901301-1234567", "birth date"),  # month 13
        ("900230-1234567", "birth date"),  # 30 February
        ("270101-3234567", "birth date"),  # born in 2027: in the future
        ("900101-9234567", "gender"),  # 1800s
        ("900101-0234567", "gender"),
        ("900101-123456", "YYMMDD"),  # 12 digits
        ("900101-12345678", "YYMMDD"),  # 14 digits
        ("90010-11234567", "YYMMDD"),
        ("abcdef-1234567", "YYMMDD"),
        ("", "YYMMDD"),
    ],
)
def test_parse_refuses_impossible_numbers(value: str, reason: str) -> None:
    with pytest.raises(krid.MalformedNumberError, match=reason) as info:
        krid.parse(value, today=TODAY)
    assert value[7:] == "" or value[7:] not in info.value.reason  # never echoes the number


def test_check_digit_boundary_is_october_2020() -> None:
    before = with_check("200930412345", valid=False)
    after = with_check("201001412345", valid=False)
    assert krid.parse(before, today=TODAY).check_digit is krid.CheckDigit.UNVERIFIED
    assert krid.parse(after, today=TODAY).check_digit is krid.CheckDigit.NONE
