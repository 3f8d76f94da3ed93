"""Normalization and validation of customer field values.

Each function takes a raw string and returns the canonical form, or raises
:class:`InvalidFieldError` with a reason that never repeats the value.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import phonenumbers

from vault.lib import krid
from vault.policy.errors import InvalidFieldError

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
#: Quality flag: a registration number whose check digit does not match (re-issued since October 2020, or a typo).
CHECK_DIGIT_UNVERIFIED = "check_digit_unverified"


# A cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(...), +cmd|...).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _clean(field: str, value: str) -> str:
    """Trim and NFC-normalize; empty is an error; control and invisible format characters (zero-width,
    bidi overrides: two values that look identical but differ) are refused."""
    out = unicodedata.normalize("NFC", value).strip()
    if not out:
        raise InvalidFieldError(field, "must not be empty")
    # str.isprintable() is False for every Cc and Cf character (and for separators other than the space):
    # the per-character check runs only for the rare values it does not clear.
    if not out.isprintable() and any(unicodedata.category(ch) in ("Cc", "Cf") for ch in out):
        raise InvalidFieldError(field, "must not contain control or invisible formatting characters")
    return out


def strip(field: str, value: str) -> str:
    """Free text: :func:`_clean`, and no leading formula character (``= + - @``: a spreadsheet opening an
    export would run the cell)."""
    out = _clean(field, value)
    if out.startswith(FORMULA_PREFIXES):
        raise InvalidFieldError(field, "must not start with =, +, - or @")
    return out


def name(field: str, value: str) -> str:
    """A person's name: NFC, collapsed inner whitespace."""
    return " ".join(strip(field, value).split())


def upper(field: str, value: str) -> str:
    """Upper-cased token (enums)."""
    return _clean(field, value).upper()


def email(field: str, value: str) -> str:
    """Lower-cased, syntactically valid address."""
    out = _clean(field, value).lower()
    if len(out) > 254 or not _EMAIL.match(out) or len(out.split("@", 1)[0]) > 64:
        raise InvalidFieldError(field, "is not a valid email address")
    return out


_KR_MOBILE = re.compile(r"(?:\+82[ -]?|0)(1[016789])[ -]?(\d{3,4})[ -]?(\d{4})")
#: Seoul (02) and the two-digit area codes (031-033, 041-044, 051-055, 061-064), written nationally.
_KR_AREA = re.compile(r"0(2|[3-6][1-5])[ -]?([1-9]\d{2,3})[ -]?(\d{4})")


def e164(field: str, value: str, region: str = "KR") -> str:
    """A phone number in E.164 (Korea is the default region)."""
    raw = _clean(field, value)
    m = _KR_MOBILE.fullmatch(raw) if region == "KR" else None
    if m is not None and (m.group(1) != "10" or len(m.group(2)) == 4):
        # Fast path for the common Korean mobile writings; everything else goes through libphonenumber.
        candidate = "+82" + "".join(m.groups())
        if m.group(1) == "10" or phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate
    m = _KR_AREA.fullmatch(raw) if region == "KR" else None
    if m is not None:
        # Fast path for Korean landlines written nationally (02-312-3456): libphonenumber's validator on the
        # number its parser would build, without the parser (a third of the time).
        national = "".join(m.groups())
        if phonenumbers.is_valid_number(phonenumbers.PhoneNumber(country_code=82, national_number=int(national))):
            return "+82" + national
    try:
        num = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidFieldError(field, "is not a phone number") from exc
    if not (phonenumbers.is_valid_number(num) or _korean_mobile(num)):
        raise InvalidFieldError(field, "is not a valid phone number")
    return str(phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164))


def _korean_mobile(num: phonenumbers.PhoneNumber) -> bool:
    # libphonenumber's metadata lags the 010 ranges actually issued (e.g. 010-5xxx); any 010 + 8 digits is a mobile.
    return num.country_code == 82 and re.fullmatch(r"10[2-9]\d{7}", str(num.national_number)) is not None


def iso_date(field: str, value: str) -> str:
    """A past calendar date as YYYY-MM-DD."""
    raw = _clean(field, value)
    try:
        parsed = date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidFieldError(field, "must be a date YYYY-MM-DD") from exc
    if len(raw) != 10:
        raise InvalidFieldError(field, "must be a date YYYY-MM-DD")
    if parsed > date.today() or parsed.year < 1900:
        raise InvalidFieldError(field, "must be a plausible past date")
    return parsed.isoformat()


def rrn(field: str, value: str) -> str:
    """A Korean resident (or foreigner) registration number as YYMMDD-GNNNNNN.

    The rules are :func:`vault.lib.krid.parse`: a structurally impossible number
    (length, birth date, gender/century digit) is refused; one whose check digit
    does not match is accepted, because numbers re-issued since October 2020 have
    none, and :func:`rrn_quality` flags it.
    """
    try:
        return krid.parse(_clean(field, value)).formatted
    except krid.MalformedNumberError as exc:
        raise InvalidFieldError(field, exc.reason) from exc


def rrn_quality(value: str) -> tuple[str, ...]:
    """Data-quality flags of a normalized registration number (see :mod:`vault.customers.quality`)."""
    if krid.parse(value).check_digit is krid.CheckDigit.UNVERIFIED:
        return (CHECK_DIGIT_UNVERIFIED,)
    return ()
