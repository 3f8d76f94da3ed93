"""Which recognizers run for which language, and the one place the analyzer is built.

Call :func:`build_analyzer` once per process (app factory, CLI command) and
inject the result; nothing in this package keeps an analyzer in a global.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import NoOpNlpEngine

from vault.detection.context import SubstringContextEnhancer
from vault.detection.recognizers import (
    EmailAddressRecognizer,
    EnglishAddressRecognizer,
    EnglishNameRecognizer,
    HangulNameRecognizer,
    IbanCodeRecognizer,
    IntlPhoneRecognizer,
    IpAddressRecognizer,
    KoreanAddressRecognizer,
    KoreanBankAccountRecognizer,
    KoreanBrnRecognizer,
    KoreanDriverLicenseRecognizer,
    KoreanFrnRecognizer,
    KoreanPassportRecognizer,
    KoreanPhoneRecognizer,
    KoreanRrnRecognizer,
    PaymentCardRecognizer,
    SpelledEmailRecognizer,
)
from vault.detection.recognizers.email import offline_extractor

#: Languages callers may name. Notes mix Korean and English freely, so every
#: recognizer below is registered for both; a recognizer for a language that
#: is not mixed in (say ``ja``) would list only its own.
LANGUAGES: tuple[str, ...] = ("ko", "en")
#: Internal language code that runs every registered recognizer once; used
#: when a text's language is missing or not one of :data:`LANGUAGES`.
ANY_LANGUAGE = "xx"

RecognizerFactory = Callable[[str], EntityRecognizer]


@dataclass(frozen=True)
class RecognizerSpec:
    """A recognizer to load: how to make one for a language, and for which languages."""

    name: str
    factory: RecognizerFactory
    languages: tuple[str, ...] = LANGUAGES


def default_recognizers() -> tuple[RecognizerSpec, ...]:
    """The recognizers of the vault's Korean + English configuration."""
    extractor = offline_extractor()
    bilingual: list[type[EntityRecognizer]] = [
        KoreanRrnRecognizer,
        KoreanFrnRecognizer,
        KoreanPhoneRecognizer,
        IntlPhoneRecognizer,
        KoreanDriverLicenseRecognizer,
        KoreanPassportRecognizer,
        KoreanBrnRecognizer,
        KoreanBankAccountRecognizer,
        PaymentCardRecognizer,
        IbanCodeRecognizer,
        IpAddressRecognizer,
        HangulNameRecognizer,
        KoreanAddressRecognizer,
        EnglishNameRecognizer,
        EnglishAddressRecognizer,
    ]
    specs = [RecognizerSpec(cls.__name__, cls) for cls in bilingual]
    specs.append(RecognizerSpec("EmailAddressRecognizer", lambda lang: EmailAddressRecognizer(lang, extractor)))
    specs.append(RecognizerSpec("SpelledEmailRecognizer", lambda lang: SpelledEmailRecognizer(lang, extractor)))
    return tuple(specs)


def build_registry(specs: Sequence[RecognizerSpec], languages: Sequence[str] = LANGUAGES) -> RecognizerRegistry:
    """A Presidio registry with one recognizer instance per (spec, language) and the any-language set.

    Args:
        specs: Recognizers to load.
        languages: Languages to register (besides :data:`ANY_LANGUAGE`).
    """
    registry = RecognizerRegistry(supported_languages=[*languages, ANY_LANGUAGE])
    for spec in specs:
        for language in spec.languages:
            if language in languages:
                registry.add_recognizer(spec.factory(language))
        registry.add_recognizer(spec.factory(ANY_LANGUAGE))
    return registry


def build_analyzer(
    specs: Sequence[RecognizerSpec] | None = None, languages: Sequence[str] = LANGUAGES
) -> AnalyzerEngine:
    """Build the offline analyzer: no spaCy model, no network, Hangul-aware context scoring.

    The NLP engine is Presidio's no-op engine: every recognizer here works on
    characters, and :class:`SubstringContextEnhancer` replaces the lemma-based
    context enhancer, so no tokenizer or model is loaded.

    Args:
        specs: Recognizers to load; :func:`default_recognizers` when omitted.
        languages: Languages callers may pass to ``analyze``.

    Returns:
        A ready Presidio ``AnalyzerEngine``; share it, it is stateless per call.
    """
    all_languages = [*languages, ANY_LANGUAGE]
    nlp_engine = NoOpNlpEngine(models=[{"lang_code": lang, "model_name": "no_op"} for lang in all_languages])
    nlp_engine.load()
    return AnalyzerEngine(
        registry=build_registry(specs if specs is not None else default_recognizers(), languages),
        nlp_engine=nlp_engine,
        supported_languages=all_languages,
        context_aware_enhancer=SubstringContextEnhancer(),
        default_score_threshold=0.0,
    )
