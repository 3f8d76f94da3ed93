"""Text folding before detection, with a map back to the original offsets.

Recognizers are written for the usual forms of a value. People (and evasive ones on purpose)
also write full-width forms (``０１０－１２３４－５６７８``, ``hong＠example．com``) and spaced
digits (``9 0 0 1 0 1 - 1 2 3 4 5 6 7``). Detection runs on a folded copy: NFKC per character
(full-width → ASCII, compatibility forms → plain), and in a second copy the spaces between
digits and hyphens collapsed; every folded character remembers the original index it came
from, so entities are reported at their offsets in the text as given.
"""

from __future__ import annotations

import re
import unicodedata

_SPACED_DIGITS = re.compile(r"\d[ \t\u00a0\u3000]+[\d\-]|-[ \t\u00a0\u3000]+\d")


def fold(text: str) -> tuple[str, list[int]]:
    """NFKC per character; returns the folded text and, per folded character, its original index."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text, list(range(len(text)))
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        folded = unicodedata.normalize("NFKC", ch) if not ch.isascii() else ch
        out.append(folded)
        index.extend([i] * len(folded))
    return "".join(out), index


def has_spaced_digits(text: str) -> bool:
    """Whether :func:`collapse_digit_spacing` would change ``text``."""
    return _SPACED_DIGITS.search(text) is not None


def collapse_digit_spacing(text: str, index: list[int]) -> tuple[str, list[int]]:
    """Drop whitespace between digits and hyphens (``010 1234 5678`` → ``01012345678``)."""
    out: list[str] = []
    kept: list[int] = []
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch in " \t\u00a0\u3000" and out and (out[-1].isdigit() or out[-1] == "-"):
            j = i
            while j < n and text[j] in " \t\u00a0\u3000":
                j += 1
            if j < n and (text[j].isdigit() or text[j] == "-") and (out[-1].isdigit() or text[j].isdigit()):
                i = j  # skip the run of spaces
                continue
        out.append(ch)
        kept.append(index[i])
        i += 1
    return "".join(out), kept


def to_original(index: list[int], start: int, end: int) -> tuple[int, int]:
    """The original ``[start, end)`` of the folded span ``[start, end)``."""
    return index[start], index[end - 1] + 1
