"""The detection use cases: find PII in text, redact it, classify an import column."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Final

from vault.detection.entities import STRUCTURED_TYPES, redaction_label
from vault.detection.folding import collapse_digit_spacing, fold, has_spaced_digits, to_original
from vault.detection.overlap import resolve_overlaps
from vault.detection.registry import ANY_LANGUAGE
from vault.lib.pii import ColumnVerdict, DetectedEntity, RedactedText

__all__ = ["DEFAULT_THRESHOLD", "ColumnVerdict", "DetectedEntity", "PiiDetector", "RedactedText"]

if TYPE_CHECKING:
    from collections.abc import Sequence

    from vault.detection.engine import Analyzer

DEFAULT_THRESHOLD: Final = 0.5


class PiiDetector:
    """Detects personal data in free text with an injected, pre-built analyzer.

    Args:
        analyzer: From :func:`vault.detection.registry.build_analyzer`, built once per process.
        threshold: Default minimum score of a reported entity.
    """

    structured_types: frozenset[str] = STRUCTURED_TYPES

    def __init__(self, analyzer: Analyzer, *, threshold: float = DEFAULT_THRESHOLD) -> None:
        self._analyzer = analyzer
        self._threshold = threshold
        self._languages = frozenset(analyzer.supported_languages)
        self._served = frozenset(r.supported_language for r in analyzer.registry.recognizers)

    def analyze(
        self, text: str, language: str | None = None, *, threshold: float | None = None
    ) -> list[DetectedEntity]:
        """Find personal data in ``text``.

        Args:
            text: Any free text; Korean and English may be mixed.
            language: ``"ko"``, ``"en"``; missing or unknown runs every recognizer.
            threshold: Minimum score; the detector's default when omitted.

        Returns:
            Non-overlapping entities sorted by start offset.
        """
        lang = language if language in self._languages else ANY_LANGUAGE
        if not text or lang not in self._served:
            return []
        score = self._threshold if threshold is None else threshold
        # Full-width and other compatibility forms are folded (NFKC), and spaced digits collapsed in a second
        # pass, so evasive spellings are found; offsets map back to ``text`` as given.
        folded, index = fold(text)
        found = self._scan(folded, index, lang, score)
        if has_spaced_digits(folded):
            collapsed, kept = collapse_digit_spacing(folded, index)
            found += self._scan(collapsed, kept, lang, score)
        return resolve_overlaps(found)

    def _scan(self, text: str, index: list[int], lang: str, score: float) -> list[DetectedEntity]:
        results = self._analyzer.analyze(text=text, language=lang, score_threshold=score)
        out = []
        for r in results:
            start, end = to_original(index, r.start, r.end)
            out.append(DetectedEntity(r.entity_type, start, end, round(float(r.score), 4)))
        return out

    def redact(self, text: str, language: str | None = None) -> RedactedText:
        """Replace each entity with a label: ``[전화번호]`` for ``"ko"``, ``<PHONE_NUMBER>`` otherwise.

        Args:
            text: Text to redact.
            language: Language of the text; chooses the recognizers and the labels.
        """
        entities = self.analyze(text, language)
        parts: list[str] = []
        cursor = 0
        for entity in entities:
            parts.append(text[cursor : entity.start])
            parts.append(redaction_label(entity.type, language))
            cursor = entity.end
        parts.append(text[cursor:])
        return RedactedText("".join(parts), tuple(entities))

    def classify_column(
        self, values: Sequence[str], *, sample_size: int = 200, min_ratio: float = 0.5
    ) -> ColumnVerdict:
        """Guess what an unknown import column holds from a sample of its values.

        Args:
            values: The column's cells, in file order; empty cells are skipped.
            sample_size: At most this many non-empty values, spread evenly over the column.
            min_ratio: Share of sampled values a type (or PII at all) must reach.
        """
        cells = [v.strip() for v in values if v and v.strip()]
        if not cells:
            return ColumnVerdict(None, False, 0.0, 0)
        step = max(1, len(cells) // sample_size)
        sample = cells[::step][:sample_size]
        main_types: Counter[str] = Counter()
        for cell in sample:
            found = self.analyze(cell)
            if found:
                main = max(found, key=lambda e: (e.end - e.start, e.score))
                main_types[main.type] += 1
        if not main_types:
            return ColumnVerdict(None, False, 0.0, len(sample))
        top, count = main_types.most_common(1)[0]
        ratio = count / len(sample)
        with_pii = sum(main_types.values()) / len(sample)
        if ratio >= min_ratio:
            return ColumnVerdict(top, True, round(ratio, 4), len(sample), dict(main_types))
        return ColumnVerdict(None, with_pii >= min_ratio, round(with_pii, 4), len(sample), dict(main_types))
