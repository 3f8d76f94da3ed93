"""Shared machinery for the regex recognizers, free of Presidio and spaCy at import time.

The recognizers follow Presidio's conventions (one class per file, patterns
and context words as class constants, ``validate_result`` returning
True/False/None, results with ``entity_type``/``start``/``end``/``score`` and
``recognition_metadata``), but derive from :class:`RegexRecognizer` here, not
from Presidio's ``LocalRecognizer``: importing ``presidio_analyzer`` imports
spaCy (about a second), which a ``vault pii scan`` process must not pay when no
NLP model is used. :mod:`vault.detection.engine` runs them as is;
:mod:`vault.detection.presidio` wraps them for a Presidio ``AnalyzerEngine``.
``score_match`` adds what ``validate_result`` cannot do (the match groups).

Boundaries: Python's ``\\b`` treats Hangul as word characters, so
``010-1234-5678로`` or ``주민번호900101-...`` would lose their boundary.
:data:`LEFT` and :data:`RIGHT` only forbid ASCII letters and digits (and a
digit glued on with ``-`` or ``.``), so Korean particles may touch a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, ClassVar

#: Keys of ``Finding.recognition_metadata`` (the same strings Presidio uses).
RECOGNIZER_NAME_KEY = "recognizer_name"
RECOGNIZER_IDENTIFIER_KEY = "recognizer_identifier"
IS_SCORE_ENHANCED_BY_CONTEXT_KEY = "is_score_enhanced_by_context"


@dataclass(eq=False)
class Finding:
    """A candidate entity: Presidio's ``RecognizerResult`` shape without Presidio."""

    entity_type: str
    start: int
    end: int
    score: float
    recognition_metadata: dict[str, Any] = field(default_factory=dict)

    def contained_in(self, other: Finding) -> bool:
        """Whether this span lies within ``other``'s."""
        return self.start >= other.start and self.end <= other.end

    def key(self) -> tuple[str, int, int, float]:
        """Identity for de-duplication."""
        return self.entity_type, self.start, self.end, self.score


def remove_duplicates(results: list[Finding]) -> list[Finding]:
    """Presidio's rule: drop zero scores and results contained in a same-type result scoring at least as much."""
    unique = list({r.key(): r for r in results}.values())
    unique.sort(key=lambda r: (r.entity_type, r.start, -(r.end - r.start), -r.score))
    kept: list[Finding] = []
    for _, group in groupby(unique, key=lambda r: r.entity_type):
        active: list[Finding] = []
        for result in group:
            if result.score == 0:
                continue
            active = [a for a in active if a.end >= result.start]
            if any(result.contained_in(a) and result.score <= a.score for a in active):
                continue
            kept.append(result)
            active.append(result)
    return kept


#: Start of a value: not inside an ASCII word or number, not the tail of ``12-``/``ORD-``.
LEFT = r"(?<![0-9A-Za-z])(?<![0-9][-.])(?<![A-Za-z]-)"
#: End of a value: not followed by ASCII letters/digits or by ``-7``/``.7``.
RIGHT = r"(?![0-9A-Za-z])(?![-.][0-9])"
#: Optional separator between digit groups: ``-``, ``.``, a space, or `` - ``.
SEP = r"(?:[ ]?[-.][ ]?|[ ])?"


@dataclass(frozen=True)
class RegexPattern:
    """A compiled pattern and the score a plain (unvalidated) match gets."""

    name: str
    regex: re.Pattern[str]
    score: float


def pattern(name: str, regex: str, score: float, flags: int = 0) -> RegexPattern:
    """Compile ``regex`` once, at class-definition time."""
    return RegexPattern(name, re.compile(regex, flags), score)


class RegexRecognizer:
    """Pattern recognizer with Hangul-safe boundaries and group-aware scoring.

    Subclasses set ``ENTITY``, ``PATTERNS`` and optionally ``CONTEXT`` (words that
    raise the score when they appear just before or after a value) and
    ``NEGATIVE_CONTEXT`` (words such as 주문번호 that lower it); the
    :class:`~vault.detection.context.SubstringContextEnhancer` applies both.
    A pattern with a named group ``value`` reports that group's span.
    """

    ENTITY: ClassVar[str]
    PATTERNS: ClassVar[tuple[RegexPattern, ...]]
    CONTEXT: ClassVar[tuple[str, ...]] = ()
    NEGATIVE_CONTEXT: ClassVar[tuple[str, ...]] = ()
    VALIDATED_SCORE: ClassVar[float] = 1.0

    def __init__(self, supported_language: str = "ko") -> None:
        self.name = type(self).__name__
        self.id = f"{self.name}_{id(self)}"
        self.supported_language = supported_language
        self.supported_entities = [self.ENTITY]
        self.context: list[str] = list(self.CONTEXT)
        self.negative_context: list[str] = list(self.NEGATIVE_CONTEXT)
        self.load()

    def load(self) -> None:
        """Nothing to load: patterns are compiled with the class."""

    def enhance_using_context(
        self, text: str, raw_recognizer_results: list[Finding], other_raw_recognizer_results: list[Finding],
        nlp_artifacts: object = None, context: list[str] | None = None,
    ) -> list[Finding]:
        """Adjust this recognizer's results from the other recognizers' (Presidio's hook; none by default)."""
        return raw_recognizer_results

    def analyze(self, text: str, entities: list[str] | None = None, nlp_artifacts: object = None) -> list[Finding]:
        """Run every pattern over ``text`` and score each match.

        Args:
            text: The text to scan.
            entities: Entity types requested by the caller (unused: one entity per recognizer).
            nlp_artifacts: Ignored; these recognizers need no tokens.

        Returns:
            One result per accepted match, duplicates removed.
        """
        results: list[Finding] = []
        for pat in self.PATTERNS:
            for match in pat.regex.finditer(text):
                scored = self.score_match(match, pat, text)
                if scored is None:
                    continue
                start, end, score = scored
                if score <= 0 or end <= start:
                    continue
                results.append(self.result(start, end, score))
        if len(results) < 2:
            return results
        return remove_duplicates(results)

    def result(self, start: int, end: int, score: float) -> Finding:
        """Build a result tagged with this recognizer's id."""
        return Finding(self.ENTITY, start, end, min(score, 1.0),
                       {RECOGNIZER_NAME_KEY: self.name, RECOGNIZER_IDENTIFIER_KEY: self.id})

    def score_match(self, match: re.Match[str], pat: RegexPattern, text: str) -> tuple[int, int, float] | None:
        """Span and score of one match, or None to drop it.

        The default follows Presidio: ``validate_result`` True gives
        ``VALIDATED_SCORE``, False drops the match, None keeps the pattern score.
        """
        group = "value" if "value" in pat.regex.groupindex else 0
        start, end = match.span(group)
        verdict = self.validate_result(match.group(group))
        if verdict is False:
            return None
        return start, end, self.VALIDATED_SCORE if verdict else pat.score

    def validate_result(self, pattern_text: str) -> bool | None:
        """Checksum or shape check on the matched text (None: no opinion)."""
        return None
