"""Normalization, validation and masks of customer fields."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from vault.customers.errors import InvalidFieldError
from vault.lib.krid import rrn_checksum_ok
from vault.policy import normalize as n
from vault.policy.masks import mask


@pytest.mark.parametrize(("raw", "want"), [
    ("Hong@Example.COM", "hong@example.com"),
    ("  gildong.hong+crm@naver.com ", "gildong.hong+crm@naver.com"),
])
def test_email_ok(raw: str, want: str) -> None:
    assert n.email("email", raw) == want


@pytest.mark.parametrize("raw", ["no-at-sign", "a@b", "a@@b.com", "a b@c.com", "a@-b.com", "", "x" * 65 + "@a.com"])
def test_email_bad(raw: str) -> None:
    with pytest.raises(InvalidFieldError) as info:
        n.email("email", raw)
    assert raw.strip() == "" or raw not in info.value.detail  # the value is never echoed


@pytest.mark.parametrize(("raw", "want"), [
    ("010-1234-5678", "+821012345678"),
    ("01012345678", "+821012345678"),
    ("+82 10 1234 5678", "+821012345678"),
    ("010-5972-6422", "+821059726422"),
    ("02-123-4567", "+8221234567"),
    ("031-123-4567", "+82311234567"),
    ("+1 415-555-2671", "+14155552671"),
])
def test_phone_e164(raw: str, want: str) -> None:
    assert n.e164("phone", raw) == want


def _libphonenumber_e164(raw: str) -> str | None:
    try:
        num = phonenumbers.parse(raw, "KR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return str(phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164))


def test_landline_fast_path_agrees_with_libphonenumber() -> None:
    """The landline fast path returns what libphonenumber's parser would, and leaves every number it does
    not validate to the parser (a sample over every two-digit area code, exchange lengths and writings)."""
    rng = random.Random(13)
    for area in ["2", *(f"{a}{b}" for a in "3456" for b in "12345")]:
        for _ in range(12):
            exchange = str(rng.randint(0, 9999)).zfill(rng.choice((3, 4)))
            line = f"{rng.randint(0, 9999):04d}"
            for raw in (f"0{area}-{exchange}-{line}", f"0{area}{exchange}{line}", f"0{area} {exchange} {line}"):
                want = _libphonenumber_e164(raw)
                if want is None:
                    with pytest.raises(InvalidFieldError):
                        n.e164("phone", raw)
                else:
                    assert n.e164("phone", raw) == want, raw


@pytest.mark.parametrize("raw", ["12345", "abc", "010-12", "+82 99 1", "0000000000000000"])
def test_phone_bad(raw: str) -> None:
    with pytest.raises(InvalidFieldError, match="phone"):
        n.e164("phone", raw)


def _with_check(body: str) -> str:
    for d in range(10):
        if rrn_checksum_ok(body + str(d)):
            return f"{body[:6]}-{body[6:]}{d}"
    raise AssertionError


def test_rrn_checksum_and_format() -> None:
    good = _with_check("900101123456")
    assert n.rrn("rrn", good) == good
    assert n.rrn("rrn", good.replace("-", "")) == good
    assert n.rrn_quality(good) == ()


def test_rrn_reissued_is_accepted_and_flagged() -> None:
    # Born 1990, number re-issued after October 2020: random back digits, so the old check digit fails.
    good = _with_check("900101123456")
    reissued = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert n.rrn("rrn", reissued) == reissued
    assert n.rrn_quality(reissued) == (n.CHECK_DIGIT_UNVERIFIED,)


def test_rrn_post_2020_has_no_checksum() -> None:
    # Born 2021 (gender digit 3/4): numbers issued since October 2020 end in random digits.
    body = "2103154123456"
    assert n.rrn("rrn", f"{body[:6]}-{body[6:]}") == "210315-4123456"
    assert n.rrn_quality("210315-4123456") == ()  # nothing to verify: never had a check digit


@pytest.mark.parametrize("raw", ["901301-1234567", "900230-1234567", "12345-1234567", "900101-123456", "abc",
                                 "900101-9234567", "900101-0234567", "270101-3234567", "900101-12345678"])
def test_rrn_bad(raw: str) -> None:
    with pytest.raises(InvalidFieldError):
        n.rrn("rrn", raw)


@pytest.mark.parametrize("raw", ["1990-13-01", "1990-02-30", "19900101", "2999-01-01", "1800-01-01", "01/02/1990"])
def test_date_bad(raw: str) -> None:
    with pytest.raises(InvalidFieldError):
        n.iso_date("birth_date", raw)


def test_name_nfc_and_spaces() -> None:
    decomposed = "\u1112\u1169\u11bc\u1100\u1175\u11af\u1103\u1169\u11bc"  # 홍길동 in NFD jamo
    assert n.name("name", f"  {decomposed} ") == "홍길동"
    assert n.name("name", "John   Smith") == "John Smith"
    with pytest.raises(InvalidFieldError, match="control"):
        n.name("name", "a\x00b")


@pytest.mark.parametrize(("kind", "value", "want"), [
    ("phone", "+821012345678", "010-****-5678"),
    ("email", "hong@example.com", "h***@example.com"),
    ("name", "홍길동", "홍*동"),
    ("name", "김철", "김*"),
    ("name", "John Smith", "J*** S****"),
    ("rrn", "900101-1234567", "900101-1******"),
    ("year", "1990-05-17", "1990-**-**"),
    ("prefix3", "06236", "062**"),
    ("redact", "서울 강남구 테헤란로 1", "***"),
])
def test_masks(kind: str, value: str, want: str) -> None:
    assert mask(kind, value) == want
