"""Which recognizers run for which language, and the one place the analyzer is built.

Call :func:`build_analyzer` once per process (app factory, CLI command) and
inject the result; nothing in this package keeps an analyzer in a global.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vault.detection.engine import Analyzer
from vault.detection.recognizers import (
    BirthDateRecognizer,
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
from vault.detection.recognizers._base import RegexRecognizer

#: Languages callers may name. Notes mix Korean and English freely, so every
#: recognizer below is registered for both; a recognizer for a language that
#: is not mixed in (say ``ja``) would list only its own.
LANGUAGES: tuple[str, ...] = ("ko", "en")
#: Internal language code that runs every registered recognizer once; used
#: when a text's language is missing or not one of :data:`LANGUAGES`.
ANY_LANGUAGE = "xx"

RecognizerFactory = Callable[[str], RegexRecognizer]


@dataclass(frozen=True)
class RecognizerSpec:
    """A recognizer to load: how to make one for a language, and for which languages."""

    name: str
    factory: RecognizerFactory
    languages: tuple[str, ...] = LANGUAGES


def default_recognizers() -> tuple[RecognizerSpec, ...]:
    """The recognizers of the vault's Korean + English configuration."""
    bilingual: list[type[RegexRecognizer]] = [
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
        BirthDateRecognizer,
    ]
    specs = [RecognizerSpec(cls.__name__, cls) for cls in bilingual]
    specs.append(RecognizerSpec("EmailAddressRecognizer", EmailAddressRecognizer))
    specs.append(RecognizerSpec("SpelledEmailRecognizer", SpelledEmailRecognizer))
    return tuple(specs)


def build_analyzer(
    specs: Sequence[RecognizerSpec] | None = None, languages: Sequence[str] = LANGUAGES
) -> Analyzer:
    """Build the offline analyzer: no Presidio import, no spaCy, no model, no network.

    Each spec gives one recognizer instance per listed language plus one for
    :data:`ANY_LANGUAGE` (which runs every recognizer once). For the same
    recognizers inside Presidio's ``AnalyzerEngine`` see
    :func:`vault.detection.presidio.build_presidio_analyzer`.

    Args:
        specs: Recognizers to load; :func:`default_recognizers` when omitted.
        languages: Languages callers may pass to ``analyze``.

    Returns:
        A ready :class:`~vault.detection.engine.Analyzer`; share it, it is stateless per call.
    """
    recognizers: list[RegexRecognizer] = []
    for spec in specs if specs is not None else default_recognizers():
        for language in [*(lang for lang in spec.languages if lang in languages), ANY_LANGUAGE]:
            recognizers.append(spec.factory(language))
    return Analyzer(recognizers, [*languages, ANY_LANGUAGE])
