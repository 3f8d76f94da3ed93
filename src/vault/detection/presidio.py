"""The same recognizers inside a real Presidio ``AnalyzerEngine`` (imports Presidio, hence spaCy).

The vault itself runs :class:`vault.detection.engine.Analyzer`, which needs
neither. Use this module when Presidio's own API is wanted, e.g. to add an NLP
model's recognizers next to ours, or to compare with Presidio's defaults
(tests/bench/pii_eval.py). Import it only then: it costs about a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NoOpNlpEngine

from vault.detection.context import SubstringContextEnhancer
from vault.detection.registry import ANY_LANGUAGE, LANGUAGES, RecognizerSpec, default_recognizers

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

    from vault.detection.recognizers._base import Finding, RegexRecognizer


def _to_presidio(f: Finding) -> RecognizerResult:
    return RecognizerResult(f.entity_type, f.start, f.end, f.score, recognition_metadata=f.recognition_metadata)


class PresidioRecognizer(EntityRecognizer):
    """One of our recognizers as a Presidio ``EntityRecognizer`` (same id, so context scoring finds it)."""

    def __init__(self, inner: RegexRecognizer) -> None:
        self.inner = inner
        super().__init__(supported_entities=list(inner.supported_entities), name=inner.name,
                         supported_language=inner.supported_language, context=list(inner.context))
        self._id = inner.id
        self.negative_context = list(inner.negative_context)

    def load(self) -> None:
        """The wrapped recognizer loaded itself."""

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[Any]:
        """Run the wrapped recognizer."""
        return [_to_presidio(f) for f in self.inner.analyze(text)]

    def enhance_using_context(self, text: str, raw_recognizer_results: list[Any],
                              other_raw_recognizer_results: list[Any], nlp_artifacts: NlpArtifacts | None,
                              context: list[str] | None = None) -> list[Any]:
        """Delegate (the wrapped recognizer mutates the results' scores in place)."""
        out: list[Any] = self.inner.enhance_using_context(
            text, raw_recognizer_results, other_raw_recognizer_results, nlp_artifacts, context)
        return out


class PresidioSubstringContextEnhancer(ContextAwareEnhancer):
    """Presidio's enhancer interface around :class:`SubstringContextEnhancer`."""

    def __init__(self, inner: SubstringContextEnhancer | None = None) -> None:
        self.inner = inner or SubstringContextEnhancer()
        super().__init__(context_similarity_factor=self.inner.context_similarity_factor,
                         min_score_with_context_similarity=self.inner.min_score_with_context_similarity,
                         context_prefix_count=self.inner.context_prefix_count,
                         context_suffix_count=self.inner.context_suffix_count)

    def enhance_using_context(self, text: str, raw_results: list[Any], nlp_artifacts: NlpArtifacts | None,
                              recognizers: list[Any], context: list[str] | None = None) -> list[Any]:
        """Score from the characters around each value."""
        return self.inner.enhance_using_context(text, raw_results, nlp_artifacts, recognizers, context)


def build_presidio_analyzer(specs: Sequence[RecognizerSpec] | None = None,
                            languages: Sequence[str] = LANGUAGES) -> AnalyzerEngine:
    """A Presidio ``AnalyzerEngine`` (no-op NLP engine, no model) with the vault's recognizers."""
    all_languages = [*languages, ANY_LANGUAGE]
    registry = RecognizerRegistry(supported_languages=all_languages)
    for spec in specs if specs is not None else default_recognizers():
        for language in [*(lang for lang in spec.languages if lang in languages), ANY_LANGUAGE]:
            registry.add_recognizer(PresidioRecognizer(spec.factory(language)))
    nlp_engine = NoOpNlpEngine(models=[{"lang_code": lang, "model_name": "no_op"} for lang in all_languages])
    nlp_engine.load()
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=all_languages,
                          context_aware_enhancer=PresidioSubstringContextEnhancer(), default_score_threshold=0.0)
