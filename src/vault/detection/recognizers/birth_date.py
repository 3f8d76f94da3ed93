"""Dates of birth written in text (생년월일, DOB), reported as Presidio's ``DATE_TIME``."""

from __future__ import annotations

import datetime as dt
import re
from typing import ClassVar

from vault.detection.entities import DATE_TIME
from vault.detection.recognizers._base import RegexPattern, RegexRecognizer, pattern

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
    "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
    "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_YEAR = r"(?P<y>(?:19|20)\d{2})"
_KO = r"(?P<y>(?:19|20)?\d{2})\s?년\s?(?P<m>\d{1,2})\s?월\s?(?P<d>\d{1,2})\s?일"
_NUMERIC_YMD = _YEAR + r"(?P<s>[-./])\s?(?P<m>\d{1,2})(?P=s)\s?(?P<d>\d{1,2})\.?"
_NUMERIC_DMY = r"(?P<d>\d{1,2})(?P<s>[-./])(?P<m>\d{1,2})(?P=s)" + _YEAR
_COMPACT = r"(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})"
_EN_MDY = r"(?P<mn>" + _MONTH + r")\.?\s(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s" + _YEAR
_EN_DMY = r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\s(?:of\s)?(?P<mn>" + _MONTH + r")\.?,?\s" + _YEAR
#: Words that make a date a date of birth; the date must follow one closely (or precede 생/출생).
_CUE_BEFORE = re.compile(
    r"(?:생년월일|생일|출생일?|태어난\s?날|태어나신\s?날|birth\s?date|date of birth|birthday|d\.?o\.?b\.?|"
    r"born(?:\son)?|生年月日)\s*(?:은|는|이|:|：|-|=|\(|is|was|on)?\s*(?:[가-힣]{0,3}\s)?$",
    re.IGNORECASE,
)
_CUE_AFTER = re.compile(r"\s?(?:생|출생|태생|에\s?태어|\(생년월일\)|\s?born)", re.IGNORECASE)


class BirthDateRecognizer(RegexRecognizer):
    """Detect dates of birth: a date written next to 생년월일/생일/출생/DOB/born, or followed by 생/출생.

    Korean (``1990년 3월 15일``, ``90년 3월 15일생``, ``1990.03.15``) and English
    (``March 15, 1990``, ``15 March 1990``, ``15/03/1990``, ``1990-03-15``)
    writings. Other dates (orders, deliveries, appointments) are not personal
    data by themselves and are left alone: without a birth cue there is no match.
    """

    ENTITY = DATE_TIME
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("ko", r"(?<![0-9])(?P<value>" + _KO + r")", 0.85),
        pattern("ymd", r"(?<![0-9])(?P<value>" + _NUMERIC_YMD + r")(?![0-9])", 0.85),
        pattern("dmy", r"(?<![0-9])(?P<value>" + _NUMERIC_DMY + r")(?![0-9])", 0.85),
        pattern("compact", r"(?<![0-9])(?P<value>" + _COMPACT + r")(?![0-9])", 0.8),
        pattern("en_mdy", r"(?<![A-Za-z])(?P<value>" + _EN_MDY + r")(?![0-9])", 0.85, re.IGNORECASE),
        pattern("en_dmy", r"(?<![0-9])(?P<value>" + _EN_DMY + r")(?![0-9])", 0.85, re.IGNORECASE),
    )
    CONTEXT = ("생년월일", "생일", "출생", "birth", "dob", "born")

    def score_match(self, match: re.Match[str], pat: RegexPattern, text: str) -> tuple[int, int, float] | None:
        """Keep real past dates written next to a birth cue."""
        groups = match.groupdict()
        year = int(groups["y"])
        if year < 100:
            year += 1900 if year > dt.date.today().year % 100 else 2000
        month = _MONTHS[groups["mn"].lower().rstrip(".")] if groups.get("mn") else int(groups["m"])
        try:
            born = dt.date(year, month, int(groups["d"]))
        except ValueError:
            return None
        if born > dt.date.today() or born.year < 1900:
            return None
        start, end = match.span("value")
        before = text[max(0, start - 24) : start]
        before = before[before.rfind("\n") + 1 :]
        if not (_CUE_BEFORE.search(before) or _CUE_AFTER.match(text, end)):
            return None
        return start, end, pat.score
