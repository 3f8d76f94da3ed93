"""Generalization steps for quasi-identifiers, and the ladders that order them.

Each step maps a normalized catalogue value to a coarser one. A field's ladder
is its catalogue ``generalize`` list (most specific first, see policies/pii.yaml)
optionally topped by ``*``, which suppresses the attribute altogether. Missing
values stay missing (``None``) on every rung but ``*``.

Age bands are computed against a fixed reference date (recorded in the extract
manifest), so the same spec over the same data gives the same bands on any day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

SUPPRESS = "*"
#: Ages at or above this are top-coded into one open band (few people are that old: they would stand out).
TOP_AGE = 90

#: First two digits of a 5-digit Korean postal code (국가기초구역번호, since 2015-08-01) -> 시/도.
POSTAL_REGIONS: dict[str, str] = {
    **{f"{p:02d}": "서울특별시" for p in range(1, 9)},
    **{f"{p:02d}": "경기도" for p in range(10, 19)},
    **{f"{p:02d}": "인천광역시" for p in range(21, 24)},
    **{f"{p:02d}": "강원특별자치도" for p in range(24, 27)},
    **{f"{p:02d}": "충청북도" for p in range(27, 30)},
    "30": "세종특별자치시",
    **{f"{p:02d}": "충청남도" for p in range(31, 34)},
    **{f"{p:02d}": "대전광역시" for p in range(34, 36)},
    **{f"{p:02d}": "경상북도" for p in range(36, 41)},
    **{f"{p:02d}": "대구광역시" for p in range(41, 44)},
    **{f"{p:02d}": "울산광역시" for p in range(44, 46)},
    **{f"{p:02d}": "부산광역시" for p in range(46, 50)},
    **{f"{p:02d}": "경상남도" for p in range(50, 54)},
    **{f"{p:02d}": "전북특별자치도" for p in range(54, 57)},
    **{f"{p:02d}": "전라남도" for p in range(57, 60)},
    **{f"{p:02d}": "광주광역시" for p in range(61, 63)},
    "63": "제주특별자치도",
}
#: Region of a postal code whose prefix no 시/도 uses (00, 09, 19-20, 60, 64-99).
UNASSIGNED_REGION = "미지정"


def birth_year(value: str, reference: date) -> str | None:
    """``1985-03-02`` -> ``1985``."""
    del reference
    parsed = _date(value)
    return f"{parsed.year:04d}" if parsed else None


def age(born: date, reference: date) -> int:
    """Completed years at ``reference`` (0 for a birth date after it)."""
    years = reference.year - born.year - ((reference.month, reference.day) < (born.month, born.day))
    return max(years, 0)


def _band(width: int) -> Callable[[str, date], str | None]:
    def band(value: str, reference: date) -> str | None:
        parsed = _date(value)
        if parsed is None:
            return None
        years = age(parsed, reference)
        if years >= TOP_AGE:
            return f"{TOP_AGE}+"
        low = years // width * width
        return f"{low}-{low + width - 1}"

    band.__doc__ = f"Age band of {width} years at the reference date: ``35-39``; ``{TOP_AGE}+`` at the top."
    return band


def postal_prefix3(value: str, reference: date) -> str | None:
    """``48058`` -> ``480`` (the 시/군/구 part of the code)."""
    del reference
    digits = value.strip()
    return digits[:3] if len(digits) >= 3 else None


def postal_region(value: str, reference: date) -> str | None:
    """``48058`` -> ``부산광역시`` (first two digits -> 시/도, see :data:`POSTAL_REGIONS`)."""
    del reference
    digits = value.strip()
    if len(digits) < 2 or not digits[:2].isdigit():
        return None
    return POSTAL_REGIONS.get(digits[:2], UNASSIGNED_REGION)


def identity(value: str, reference: date) -> str | None:
    """The value itself (categorical fields: gender, city, district)."""
    del reference
    return value or None


STEPS: dict[str, Callable[[str, date], str | None]] = {
    "value": identity,
    "year": birth_year,
    "band5": _band(5),
    "band10": _band(10),
    "prefix3": postal_prefix3,
    "region": postal_region,
}


def generalize(step: str, value: str | None, reference: date) -> str | None:
    """Apply one step (or ``*``) to a normalized value; ``None`` means missing.

    Raises:
        KeyError: an unknown step (specs are validated before this is reached).
    """
    if step == SUPPRESS:
        return SUPPRESS
    if value is None or value == "":
        return None
    return STEPS[step](value, reference)


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None
