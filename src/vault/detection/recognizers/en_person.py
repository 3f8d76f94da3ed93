"""Personal names in English text (including romanised Korean names)."""

from __future__ import annotations

import re
from typing import ClassVar

from vault.detection.entities import PERSON
from vault.detection.recognizers._base import RegexPattern, RegexRecognizer, pattern
from vault.detection.recognizers._lexicon_en import (
    FIRST_NAMES,
    KOREAN_GIVEN_SYLLABLES,
    KOREAN_SURNAMES_LATIN,
    LAST_NAMES,
)

_WORD = r"[A-Z][a-z'’\-]+"
_NAME = _WORD + r"(?:[ ][A-Z]\.)?(?:[ ]" + _WORD + r"){0,2}"
_STRONG_CUES = (
    r"[Mm]y name is|[Nn]ame(?: is)?[ ]?:|[Ff]ull name[ ]?:|[Cc]ustomer name[ ]?:|[Cc]ardholder[ ]?:|"
    r"[Aa]ccount holder[ ]?:|[Rr]ecipient[ ]?:|[Aa]ttn[ ]?:|[Cc]ontact person[ ]?:|[Ss]igned[ ]?:"
)
_WEAK_CUES = (
    r"[Dd]ear|[Hh]i|[Hh]ello|[Rr]egards,?|[Ss]incerely,?|[Tt]hanks,?|[Tt]hank you,?|[Bb]est,?|[Cc]heers,?|"
    r"[Tt]his is|I am|I'm|[Cc]ustomer:?|[Cc]ontact:?|[Ss]poke (?:with|to)|[Cc]all(?:ed)? (?:from|by)|"
    r"[Cc]aller:?|[Cc]lient:?|[Pp]atient:?|[Oo]wner:?|[Mm]anager:?|[Aa]gent:?|[Ff]rom:?|[Tt]o:?|[Ff]or"
)
_SYLLABLE = "|".join(sorted(KOREAN_GIVEN_SYLLABLES, key=len, reverse=True))
_KOREAN_GIVEN = re.compile(rf"(?:{_SYLLABLE})(?:-?(?:{_SYLLABLE})){{0,2}}", re.IGNORECASE)
_NOT_SURNAMES_TEXT = """
    street avenue road lane drive court place way boulevard bank card team support service services center centre
    store shop mall hospital university college school company corp inc ltd group hotel airport station
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
    september october november december the and or from to with via about please thanks thank regarding re
"""
#: Capitalised words that follow a first name without being a surname.
_NOT_SURNAMES = frozenset(_NOT_SURNAMES_TEXT.split())


def _clean(value: str) -> str:
    for suffix in ("'s", "’s"):
        if value.endswith(suffix):
            return value[: -len(suffix)]
    return value.rstrip("'’-")


def _known(tokens: list[str]) -> bool:
    lowered = [t.lower().rstrip(".") for t in tokens]
    if any(t in FIRST_NAMES for t in lowered[:1]) or any(t in LAST_NAMES for t in lowered[1:]):
        return True
    return _korean_name(lowered)


def _korean_name(lowered: list[str]) -> bool:
    """``Kim Min-su``, ``Minsu Kim``, ``Park Jihoon``."""
    if len(lowered) != 2:
        return False
    first, last = lowered
    return (first in KOREAN_SURNAMES_LATIN and bool(_KOREAN_GIVEN.fullmatch(last))) or (
        last in KOREAN_SURNAMES_LATIN and bool(_KOREAN_GIVEN.fullmatch(first))
    )


class EnglishNameRecognizer(RegexRecognizer):
    """Detect names written in Latin script where the text says it is a person.

    ``Mr./Ms./Dr. X``, ``my name is X``, ``Name: X`` are taken at face value;
    ``Dear X``, ``Regards, X`` and a bare ``First Last`` need a first name or
    surname from the bundled lists (or a romanised Korean name).
    """

    ENTITY = PERSON
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("title", r"(?<![A-Za-z])(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Mister|Madam|Sir)\.?[ ](?P<value>" + _NAME + ")",
                0.85),
        pattern("strong_cue", r"(?:" + _STRONG_CUES + r")[ \t]*(?P<value>" + _NAME + ")", 0.75),
        pattern("weak_cue", r"(?<![A-Za-z])(?:" + _WEAK_CUES + r")[ \t\n]+(?P<value>" + _NAME + ")", 0.75),
        pattern("first_last", r"(?<![A-Za-z])(?P<value>" + _WORD + r"(?:[ ][A-Z]\.)?(?:[ ]" + _WORD + r"){1,2})",
                0.65),
    )  # fmt: skip

    def score_match(self, match: re.Match[str], pat: RegexPattern, text: str) -> tuple[int, int, float] | None:
        """Check the words against the name lists where the cue alone is not enough."""
        start = match.start("value")
        value = _clean(match.group("value"))
        tokens = value.split()
        while tokens and tokens[-1].lower() in _NOT_SURNAMES:
            tokens.pop()
        if not tokens or tokens[0].lower() in _NOT_SURNAMES:
            return None
        value = value[: value.index(tokens[-1]) + len(tokens[-1])]
        if pat.name == "first_last" and (len(tokens) < 2 or not _known(tokens)):
            return None
        if pat.name == "weak_cue" and not _known(tokens):
            return None
        return start, start + len(value), pat.score
