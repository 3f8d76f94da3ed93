"""Korean resident/foreigner registration number rules shared by validation and PII detection.

The one home of these rules: :mod:`vault.policy.normalize` (import and API
validation) and the ``KR_RRN``/``KR_FRN`` recognizers in :mod:`vault.detection`
both call :func:`parse`, so a number the vault stores is a number the detector
finds, and the other way round.

A registration number is ``YYMMDD-GNNNNNN``: a birth date, a gender/century
digit G, and six more digits. Numbers issued before October 2020 end in a
check digit. Since October 2020 new *and re-issued* numbers end in random
digits, whatever the holder's birth year (a person born in 1985 who had the
number changed in 2022 holds a number without a check digit). So a failed
check digit is not proof of a bad number: :func:`parse` reports it as
:attr:`CheckDigit.UNVERIFIED` and leaves the decision to the caller. What no
real number can have is refused: a wrong length, an impossible or future birth
date, a gender/century digit no living person holds (9 and 0 are the 1800s).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
#: Registration-number gender digit (7th) -> century of birth.
CENTURY = {
    "1": 1900, "2": 1900, "5": 1900, "6": 1900,
    "3": 2000, "4": 2000, "7": 2000, "8": 2000,
    "9": 1800, "0": 1800,
}  # fmt: skip
#: Gender digits of residents (1-4) and foreigners (5-8) born since 1900: the numbers living people hold.
RESIDENT_DIGITS = frozenset("1234")
FOREIGNER_DIGITS = frozenset("5678")
#: From this day on numbers are issued (and re-issued) with random back digits and no check digit.
RANDOM_BACK_DIGITS_SINCE = dt.date(2020, 10, 1)

_SHAPE = re.compile(r"(\d{6})[ ]?[-–]?[ ]?(\d{7})")


class Kind(StrEnum):
    """Who holds the number, from the gender digit."""

    RESIDENT = "resident"  # 주민등록번호, G 1-4
    FOREIGNER = "foreigner"  # 외국인등록번호, G 5-8


class CheckDigit(StrEnum):
    """What the last digit tells about the number."""

    VALID = "valid"  # the pre-October-2020 check digit matches
    #: The check digit does not match: a number re-issued since October 2020 (random back digits,
    #: legal) or a typo; nothing in the number tells which.
    UNVERIFIED = "unverified"
    #: Born on or after :data:`RANDOM_BACK_DIGITS_SINCE`: the number was never given a check digit.
    NONE = "none"


class MalformedNumberError(ValueError):
    """A number no registration could have issued; ``reason`` never repeats the value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RegistrationNumber:
    """A structurally possible resident or foreigner registration number."""

    digits: str
    kind: Kind
    birth_date: dt.date
    check_digit: CheckDigit

    @property
    def formatted(self) -> str:
        """``YYMMDD-GNNNNNN``."""
        return f"{self.digits[:6]}-{self.digits[6:]}"


def weighted_sum(digits: str) -> int:
    """Sum of the first twelve digits times the registration-number weights."""
    return sum(int(d) * w for d, w in zip(digits, RRN_WEIGHTS, strict=False))


def rrn_checksum_ok(digits: str) -> bool:
    """Check digit of a resident registration number issued before October 2020:
    ``(11 - sum(d_i * w_i) mod 11) mod 10``."""
    return len(digits) == 13 and digits.isdigit() and (11 - weighted_sum(digits) % 11) % 10 == int(digits[12])


def frn_checksum_ok(digits: str) -> bool:
    """Check digit of a foreigner registration number issued before October 2020.

    Foreigner numbers use the RRN weights with ``13 - sum % 11``; some older
    numbers were issued with the RRN rule, so both are accepted.
    """
    if len(digits) != 13 or not digits.isdigit():
        return False
    return (13 - weighted_sum(digits) % 11) % 10 == int(digits[12]) or rrn_checksum_ok(digits)


def birth_date(digits: str, *, today: dt.date | None = None) -> dt.date | None:
    """Birth date encoded in the first seven digits, if it is a real past date (any century digit)."""
    if len(digits) < 7 or not digits[:7].isdigit():
        return None
    try:
        born = dt.date(CENTURY[digits[6]] + int(digits[:2]), int(digits[2:4]), int(digits[4:6]))
    except ValueError:
        return None
    return None if born > (today or dt.date.today()) else born


def parse_digits(digits: str, *, today: dt.date | None = None) -> RegistrationNumber:
    """Check thirteen digits against the rules in the module docstring.

    Raises:
        MalformedNumberError: wrong length, a gender digit no living person holds,
            or an impossible or future birth date.
    """
    if len(digits) != 13 or not digits.isdigit():
        raise MalformedNumberError("must have 13 digits (YYMMDD-NNNNNNN)")
    gender = digits[6]
    if gender in RESIDENT_DIGITS:
        kind = Kind.RESIDENT
    elif gender in FOREIGNER_DIGITS:
        kind = Kind.FOREIGNER
    else:
        raise MalformedNumberError("has an impossible gender/century digit (7th digit must be 1-8)")
    born = birth_date(digits, today=today)
    if born is None:
        raise MalformedNumberError("has an impossible birth date part")
    ok = rrn_checksum_ok(digits) if kind is Kind.RESIDENT else frn_checksum_ok(digits)
    if ok:
        check = CheckDigit.VALID
    elif born >= RANDOM_BACK_DIGITS_SINCE:
        check = CheckDigit.NONE
    else:
        check = CheckDigit.UNVERIFIED
    return RegistrationNumber(digits, kind, born, check)


def parse(value: str, *, today: dt.date | None = None) -> RegistrationNumber:
    """Parse ``YYMMDD-GNNNNNN`` (hyphen, en dash, spaces around it, or none).

    Raises:
        MalformedNumberError: not that shape, or see :func:`parse_digits`.
    """
    m = _SHAPE.fullmatch(value.strip())
    if m is None:
        raise MalformedNumberError("must look like YYMMDD-NNNNNNN")
    return parse_digits(m.group(1) + m.group(2), today=today)
