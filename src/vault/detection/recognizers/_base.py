"""Shared machinery for the regex recognizers.

Presidio's ``PatternRecognizer`` hands ``validate_result`` only the matched
text; several Korean identifiers need the match groups (date part, gender
digit) to score, so the recognizers here derive from :class:`RegexRecognizer`,
which keeps Presidio's conventions (patterns and context words as class
constants, ``validate_result`` returning True/False/None) and adds
``score_match`` for the cases that need more.

Boundaries: Python's ``\\b`` treats Hangul as word characters, so
``010-1234-5678로`` or ``주민번호900101-...`` would lose their boundary.
:data:`LEFT` and :data:`RIGHT` only forbid ASCII letters and digits (and a
digit glued on with ``-`` or ``.``), so Korean particles may touch a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from presidio_analyzer import EntityRecognizer, LocalRecognizer, RecognizerResult

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

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


class RegexRecognizer(LocalRecognizer):
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
        super().__init__(
            supported_entities=[self.ENTITY],
            name=type(self).__name__,
            supported_language=supported_language,
            context=list(self.CONTEXT),
        )
        self.negative_context: list[str] = list(self.NEGATIVE_CONTEXT)

    def load(self) -> None:
        """Nothing to load: patterns are compiled with the class."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Run every pattern over ``text`` and score each match.

        Args:
            text: The text to scan.
            entities: Entity types requested by the caller (unused: one entity per recognizer).
            nlp_artifacts: Ignored; these recognizers need no tokens.

        Returns:
            One result per accepted match, duplicates removed.
        """
        results: list[RecognizerResult] = []
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
        deduped: list[RecognizerResult] = EntityRecognizer.remove_duplicates(results)
        return deduped

    def result(self, start: int, end: int, score: float) -> RecognizerResult:
        """Build a Presidio result tagged with this recognizer's id."""
        return RecognizerResult(
            entity_type=self.ENTITY,
            start=start,
            end=end,
            score=min(score, 1.0),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: type(self).__name__,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )

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
