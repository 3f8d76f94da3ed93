"""Masks for roles allowed to see a field only partly (``010-****-5678``)."""

from __future__ import annotations

import re
from collections.abc import Callable

import phonenumbers

# Korean numbers already in E.164 (what the catalogue stores): mobile 01x, Seoul 02 and regional 0[3-6]x;
# their national grouping is fixed, so the mask needs no libphonenumber parse on the read path.
_KR_E164 = re.compile(r"^\+82(1[016789]|2|[3-6][1-5])(\d{3,4})(\d{4})$")


def _phone(value: str) -> str:
    fast = _KR_E164.match(value)
    if fast is not None:
        area, middle, last = fast.groups()
        return f"0{area}-{'*' * len(middle)}-{last}"
    try:
        num = phonenumbers.parse(value, "KR")
        national = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        national = value
    groups = national.replace(" ", "-").split("-")
    if len(groups) >= 3:
        return "-".join([groups[0], *("*" * len(g) for g in groups[1:-1]), groups[-1]])
    digits = [c for c in national if c.isdigit()]
    return "*" * max(len(digits) - 4, 0) + "".join(digits[-4:])


def _email(value: str) -> str:
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def _name(value: str) -> str:
    if " " in value:
        return " ".join(part[:1] + "*" * (len(part) - 1) for part in value.split())
    if len(value) <= 2:
        return value[:1] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def _rrn(value: str) -> str:
    return value[:8] + "******"


def _year(value: str) -> str:
    return value[:4] + "-**-**"


def _prefix3(value: str) -> str:
    return value[:3] + "*" * (len(value) - 3)


def _last4(value: str) -> str:
    return "*" * max(len(value) - 4, 0) + value[-4:]


MASKS: dict[str, Callable[[str], str]] = {
    "phone": _phone,
    "email": _email,
    "name": _name,
    "rrn": _rrn,
    "year": _year,
    "prefix3": _prefix3,
    "last4": _last4,
    "redact": lambda _v: "***",
    "none": lambda v: v,
}


def mask(kind: str, value: str) -> str:
    """Apply the mask named ``kind`` (from the field catalogue)."""
    return MASKS[kind](value)
