"""Korean personal names written in Hangul."""

from __future__ import annotations

import re
from typing import ClassVar

from vault.detection.entities import EMAIL_ADDRESS, KR_FRN, KR_RRN, PERSON, PHONE_NUMBER
from vault.detection.recognizers._base import Finding, RegexPattern, RegexRecognizer, pattern
from vault.detection.recognizers._lexicon_ko import (
    COMPOUND_SURNAMES,
    GIVEN_SYLLABLES,
    HONORIFICS,
    NAME_CUES,
    PARTICLES,
    STOPWORDS,
    SURNAMES,
)

_HONORIFIC_FIRST = sorted(HONORIFICS, key=len, reverse=True)
_PARTICLE_SET = frozenset(PARTICLES)
_SHORT_NAME_HONORIFICS = ("님", "씨")
_CUE_TAIL = re.compile(
    r"(?:" + "|".join(sorted(map(re.escape, NAME_CUES), key=len, reverse=True)) + r")(?:은|는|이|가|의)?[\s:：\-=]*$",
    re.IGNORECASE,
)
#: Cues strong enough to accept a two-syllable name (``예금주 손길``, ``성명: 구준``).
_STRONG_CUE_TAIL = re.compile(
    r"(?:성함|성명|이름|고객명|예금주|수령인|수취인|받는\s?분|name)(?:은|는|이|:|\s)*\s*$", re.IGNORECASE
)
_NEXT_WORD = re.compile(r"[ ]{0,2}([가-힣]+)")
_LINKED_TYPES = frozenset({PHONE_NUMBER, EMAIL_ADDRESS, KR_RRN, KR_FRN})
_LINK_GAP = re.compile(r"^[\s(\[,/:·\-]{0,4}$")


def _is_name(candidate: str) -> bool:
    """Surname + one or two given-name syllables, and not an ordinary word."""
    if candidate in STOPWORDS:
        return False
    if candidate[:2] in COMPOUND_SURNAMES and 3 <= len(candidate) <= 4:
        given = candidate[2:]
    elif candidate[0] in SURNAMES and 2 <= len(candidate) <= 3:
        given = candidate[1:]
    else:
        return False
    return all(syllable in GIVEN_SYLLABLES for syllable in given)


def _honorific_suffix(rest: str) -> str | None:
    """The honorific ``rest`` starts with, if what follows it is a particle."""
    for honorific in _HONORIFIC_FIRST:
        if rest.startswith(honorific) and rest[len(honorific) :] in _PARTICLE_SET:
            return honorific
    return None


class HangulNameRecognizer(RegexRecognizer):
    """Detect Hangul names: a known surname, given-name syllables, and evidence it is a person.

    Evidence, strongest first: an honorific or role attached or right after
    (``김민수님``, ``김민수 고객님께``, ``박지훈 과장``); a cue word right before
    (``성함은 김민수입니다``, ``수령인: 김민수``); a phone number, e-mail or RRN
    right next to it (``김민수(010-...)``); the whole text being the name (a
    spreadsheet cell). Two-syllable names need 님/씨 or a strong cue (성명, 예금주). Without evidence a
    three-syllable candidate scores 0.3, below any useful threshold.
    """

    ENTITY = PERSON
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (pattern("hangul_word", r"[가-힣]{2,}", 0.3),)

    def score_match(self, match: re.Match[str], pat: RegexPattern, text: str) -> tuple[int, int, float] | None:
        """Split the word into name + suffix and weigh the evidence around it."""
        word = match.group(0)
        start = match.start()
        for length in (4, 3, 2):
            if len(word) < length:
                continue
            name, rest = word[:length], word[length:]
            if not _is_name(name):
                continue
            honorific = _honorific_suffix(rest)
            if honorific is None and rest not in _PARTICLE_SET:
                continue
            if honorific is None and not rest:
                honorific = self._next_word_honorific(text, match.end())
            end = start + length
            score = self._score(text, start, end, honorific)
            return None if score is None else (start, end, score)
        return None

    @staticmethod
    def _next_word_honorific(text: str, pos: int) -> str | None:
        follow = _NEXT_WORD.match(text, pos)
        return _honorific_suffix(follow.group(1)) if follow else None

    @staticmethod
    def _score(text: str, start: int, end: int, honorific: str | None) -> float | None:
        short = end - start == 2
        if honorific is not None and (not short or honorific in _SHORT_NAME_HONORIFICS):
            return 0.8 if not short else 0.65
        if short:
            return 0.6 if _STRONG_CUE_TAIL.search(text, max(0, start - 12), start) else None
        if _CUE_TAIL.search(text, max(0, start - 16), start):
            return 0.7
        if not text[:start].strip() and not text[end:].strip():
            return 0.6
        return 0.3

    def enhance_using_context(
        self,
        text: str,
        raw_recognizer_results: list[Finding],
        other_raw_recognizer_results: list[Finding],
        nlp_artifacts: object = None,
        context: list[str] | None = None,
    ) -> list[Finding]:
        """Lift a candidate written right next to a phone number, e-mail or RRN (``김민수 010-...``)."""
        linked = [r for r in other_raw_recognizer_results if r.entity_type in _LINKED_TYPES]
        for result in raw_recognizer_results:
            if result.score >= 0.6:
                continue
            for other in linked:
                gap = text[result.end : other.start] if other.start >= result.end else text[other.end : result.start]
                if (other.start >= result.end or other.end <= result.start) and _LINK_GAP.match(gap):
                    result.score = 0.6
                    break
        return raw_recognizer_results
