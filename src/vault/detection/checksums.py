"""Check digits that separate real identifiers from look-alikes.

Registration-number (RRN/FRN) rules live in :mod:`vault.lib.krid`, shared with validation.
"""

from __future__ import annotations

import string

_BRN_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)
#: IBAN length per country (ISO 13616 registry, the countries customers actually use).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
    "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
    "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27,
    "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24,
    "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def digits_only(value: str) -> str:
    """The decimal digits of ``value``, separators dropped."""
    return "".join(ch for ch in value if ch.isdigit())


def luhn_ok(number: str) -> bool:
    """Luhn (mod 10) check used by payment cards."""
    if not number.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def brn_checksum_ok(digits: str) -> bool:
    """Check digit of a Korean business registration number (사업자등록번호)."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    nums = [int(d) for d in digits]
    total = sum(n * w for n, w in zip(nums[:9], _BRN_WEIGHTS, strict=True))
    total += nums[8] * 5 // 10
    return (10 - total % 10) % 10 == nums[9]


def iban_ok(compact: str) -> bool:
    """ISO 13616 mod-97 check plus the country's registered length."""
    compact = compact.upper()
    if len(compact) < 15 or not compact.isalnum() or IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    if not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(string.ascii_uppercase.index(c) + 10) if c.isalpha() else c for c in rearranged)
    return int(numeric) % 97 == 1
