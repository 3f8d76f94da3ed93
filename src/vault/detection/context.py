"""Context scoring that works on characters, not tokens.

Presidio's ``LemmaContextAwareEnhancer`` compares context words with spaCy
lemmas. Korean attaches particles to words (``주민번호는``, ``연락처로``) and we
run without a trained spaCy model, so that enhancer never fires on Korean.
This one looks for each context word as a case-insensitive substring of a
character window around the value. It needs no Presidio import; the Presidio
enhancer in :mod:`vault.detection.presidio` delegates to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vault.detection.recognizers._base import IS_SCORE_ENHANCED_BY_CONTEXT_KEY, RECOGNIZER_IDENTIFIER_KEY


class SubstringContextEnhancer:
    """Raise scores when a recognizer's context word sits near its value; lower them for negative words.

    Args:
        boost: Added to a result's score when a context word is present.
        min_score_with_context: Floor for a result whose context is present.
        window_before: Characters before the value searched for context.
        window_after: Characters after the value searched (Korean often puts the
            label after: ``900101-1234567(주민번호)``).
        negative_penalty: Subtracted when only negative context (e.g. 주문번호) is present.
    """

    def __init__(
        self,
        boost: float = 0.35,
        min_score_with_context: float = 0.55,
        window_before: int = 30,
        window_after: int = 12,
        negative_penalty: float = 0.35,
    ) -> None:
        self.context_similarity_factor = boost
        self.min_score_with_context_similarity = min_score_with_context
        self.context_prefix_count = window_before
        self.context_suffix_count = window_after
        self.negative_penalty = negative_penalty

    MIN_SCORE = 0.0
    MAX_SCORE = 1.0

    def enhance_using_context(
        self,
        text: str,
        raw_results: Sequence[Any],
        nlp_artifacts: object,
        recognizers: Sequence[Any],
        context: list[str] | None = None,
    ) -> list[Any]:
        """Adjust each result's score from the words around it.

        Args:
            text: The analyzed text.
            raw_results: Results after the recognizers' own enhancement.
            nlp_artifacts: Unused (no tokens are needed).
            recognizers: The recognizers that ran; their ``context`` and
                ``negative_context`` lists are used.
            context: Extra context words from the caller (e.g. a column header),
                treated as present for every result.

        Returns:
            The same result objects, scores updated in place.
        """
        by_id = {rec.id: rec for rec in recognizers}
        extra = [w.lower() for w in context or []]
        lowered = text.lower()
        for result in raw_results:
            meta = result.recognition_metadata or {}
            if meta.get(IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                continue
            recognizer = by_id.get(meta.get(RECOGNIZER_IDENTIFIER_KEY))
            if recognizer is None:
                continue
            positive: list[str] = recognizer.context or []
            negative: list[str] = getattr(recognizer, "negative_context", [])
            if not positive and not negative:
                continue
            before, after = self._window(lowered, result.start, result.end)
            near_positive = min(
                _distance(before, after, [*(w.lower() for w in positive)]),
                0 if positive and any(p.lower() in w for w in extra for p in positive) else _FAR,
            )
            # A label after a value usually belongs to the next value ("010-..., 운송장 6012-..."),
            # so negative words only count before it.
            near_negative = _distance(before, "", [w.lower() for w in negative])
            if near_positive < near_negative:
                result.score = min(
                    max(result.score + self.context_similarity_factor, self.min_score_with_context_similarity),
                    self.MAX_SCORE,
                )
                meta[IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
                result.recognition_metadata = meta
            elif near_negative < _FAR:
                result.score = max(result.score - self.negative_penalty, self.MIN_SCORE)
        return list(raw_results)

    def _window(self, lowered: str, start: int, end: int) -> tuple[str, str]:
        """The text just before and after a value, cut at line breaks (a new line is a new field)."""
        before = lowered[max(0, start - self.context_prefix_count) : start]
        before = before[before.rfind("\n") + 1 :]
        after = lowered[end : end + self.context_suffix_count]
        cut = after.find("\n")
        return before, after if cut < 0 else after[:cut]


_FAR = 1 << 30


def _distance(before: str, after: str, words: list[str]) -> int:
    """Characters between the value and the nearest of ``words`` (``_FAR`` if none occurs)."""
    best = _FAR
    for word in words:
        pos = before.rfind(word)
        if pos >= 0:
            best = min(best, len(before) - pos - len(word))
        pos = after.find(word)
        if pos >= 0:
            best = min(best, pos)
    return best
