"""The analyzer the vault runs: Presidio's analysis steps without importing Presidio or spaCy.

Presidio's ``AnalyzerEngine.analyze`` does, for character-level recognizers
and a no-op NLP engine: run the language's recognizers, let each adjust its
results from the others' (``enhance_using_context``), apply the context
enhancer, drop scores under the threshold, remove contained duplicates.
:class:`Analyzer` does exactly that with the same recognizer objects, so a
fresh ``vault pii scan`` process starts without ``import presidio_analyzer``
(which imports spaCy, about a second). :func:`vault.detection.presidio.build_presidio_analyzer`
builds a real Presidio engine from the same recognizers, for callers that
want Presidio's API or an NLP model; tests check both give the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from vault.detection.context import SubstringContextEnhancer
from vault.detection.recognizers._base import RECOGNIZER_IDENTIFIER_KEY, Finding, RegexRecognizer, remove_duplicates


@dataclass
class RecognizerSet:
    """Recognizers per language (``registry.recognizers`` mirrors Presidio's registry attribute)."""

    recognizers: list[RegexRecognizer] = field(default_factory=list)

    def for_language(self, language: str) -> list[RegexRecognizer]:
        """The recognizers registered for ``language``."""
        return [r for r in self.recognizers if r.supported_language == language]


class Analyzer:
    """Runs recognizers with context scoring; built by :func:`vault.detection.registry.build_analyzer`.

    Args:
        recognizers: Recognizer instances, each for one language.
        languages: Languages callers may pass (including the any-language code).
        context_enhancer: Context scoring (``SubstringContextEnhancer`` by default).
    """

    def __init__(self, recognizers: Sequence[RegexRecognizer], languages: Sequence[str],
                 context_enhancer: SubstringContextEnhancer | None = None) -> None:
        self.registry = RecognizerSet(list(recognizers))
        self.supported_languages = list(languages)
        self._enhancer = context_enhancer or SubstringContextEnhancer()
        self._by_language = {lang: self.registry.for_language(lang) for lang in languages}

    def get_supported_entities(self, language: str) -> list[str]:
        """Entity types some recognizer of ``language`` reports."""
        return sorted({e for r in self._by_language.get(language, []) for e in r.supported_entities})

    def analyze(self, text: str, language: str, score_threshold: float = 0.0,
                context: list[str] | None = None) -> list[Finding]:
        """Entities in ``text`` scoring at least ``score_threshold`` (overlaps of different types are kept).

        Args:
            text: The text.
            language: One of :attr:`supported_languages`.
            score_threshold: Minimum score.
            context: Extra context words treated as present (e.g. a column header).
        """
        recognizers = self._by_language.get(language, [])
        results: list[Finding] = []
        for recognizer in recognizers:
            results.extend(recognizer.analyze(text))
        if not results:
            return []
        enhanced: list[Finding] = []
        for recognizer in recognizers:
            own = [r for r in results if r.recognition_metadata.get(RECOGNIZER_IDENTIFIER_KEY) == recognizer.id]
            if not own:
                continue
            others = [r for r in results if r.recognition_metadata.get(RECOGNIZER_IDENTIFIER_KEY) != recognizer.id]
            enhanced.extend(recognizer.enhance_using_context(text, own, others, None, context))
        self._enhancer.enhance_using_context(text, enhanced, None, recognizers, context)
        return remove_duplicates([r for r in enhanced if r.score >= score_threshold])
