from __future__ import annotations

import socket
import sys
import time
from typing import Any

import pytest

from vault.detection import ANY_LANGUAGE, LANGUAGES, PiiDetector, RecognizerSpec, build_analyzer
from vault.detection.recognizers import KoreanRrnRecognizer


class NetworkAccessError(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise NetworkAccessError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.usefixtures("no_network")
def test_build_and_analyze_without_network() -> None:
    detector = PiiDetector(build_analyzer())
    text = "gildong@naver.com / jane.doe@example.co.uk / 010-1234-5678"
    assert [e.type for e in detector.analyze(text)] == ["EMAIL_ADDRESS", "EMAIL_ADDRESS", "PHONE_NUMBER"]


def test_build_loads_no_spacy_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import spacy

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("spaCy model load attempted")

    monkeypatch.setattr(spacy, "load", refuse)
    monkeypatch.setattr(spacy.util, "load_model", refuse)
    analyzer = build_analyzer()
    assert analyzer.nlp_engine.get_supported_entities() == []
    assert not [name for name in sys.modules if name.startswith(("en_core_web", "ko_core_news", "xx_ent_wiki"))]


def test_build_is_fast() -> None:
    build_analyzer()  # first call pays for imports
    started = time.perf_counter()
    build_analyzer()
    assert time.perf_counter() - started < 2.0


def test_every_language_and_the_fallback_have_recognizers() -> None:
    analyzer = build_analyzer()
    for language in (*LANGUAGES, ANY_LANGUAGE):
        assert "KR_RRN" in analyzer.get_supported_entities(language)
        assert "EMAIL_ADDRESS" in analyzer.get_supported_entities(language)


def test_a_recognizer_can_be_limited_to_one_language() -> None:
    analyzer = build_analyzer([RecognizerSpec("KoreanRrnRecognizer", KoreanRrnRecognizer, ("ko",))])
    detector = PiiDetector(analyzer)
    text = "주민번호 900101-1234568"
    assert detector.analyze(text, "ko")
    assert detector.analyze(text, "en") == []
    assert detector.analyze(text, None)  # unknown language runs everything
