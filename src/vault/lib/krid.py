"""Korean resident/foreigner registration number rules shared by validation and PII detection."""

from __future__ import annotations

RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
#: Registration-number gender digit (7th) -> century of birth.
CENTURY = {
    "1": 1900, "2": 1900, "5": 1900, "6": 1900,
    "3": 2000, "4": 2000, "7": 2000, "8": 2000,
    "9": 1800, "0": 1800,
}  # fmt: skip


def weighted_sum(digits: str) -> int:
    """Sum of the first twelve digits times the registration-number weights."""
    return sum(int(d) * w for d, w in zip(digits, RRN_WEIGHTS, strict=False))


def rrn_checksum_ok(digits: str) -> bool:
    """Check digit of a resident registration number issued before October 2020:
    ``(11 - sum(d_i * w_i) mod 11) mod 10``."""
    return len(digits) == 13 and digits.isdigit() and (11 - weighted_sum(digits) % 11) % 10 == int(digits[12])
