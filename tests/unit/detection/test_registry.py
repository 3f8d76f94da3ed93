from __future__ import annotations

import socket
import subprocess
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


def test_build_imports_neither_presidio_nor_spacy() -> None:
    """A fresh process builds and runs the analyzer without importing Presidio or spaCy (no NLP model is used)."""
    code = (
        "import sys\n"
        "from vault.detection import PiiDetector, build_analyzer\n"
        "assert PiiDetector(build_analyzer()).analyze('김민수님 010-1234-5678', 'ko')\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'spacy', 'presidio_analyzer', 'thinc', 'torch'})\n"
        "print(','.join(heavy))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert res.stdout.strip() == ""


def test_cli_scan_imports_only_what_it_needs() -> None:
    """`vault pii scan` does not import the database, crypto or web layers, nor spaCy."""
    code = (
        "import sys\n"
        "sys.argv = ['vault', 'pii', 'scan']\n"
        "import io\n"
        "sys.stdin = io.TextIOWrapper(io.BytesIO(b'{\"id\":1,\"text\":\"010-1234-5678\"}\\n'))\n"
        "from vault.cli.main import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'spacy', 'presidio_analyzer', 'sqlalchemy', "
        "'litestar', 'cryptography', 'casbin'})\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert '"PHONE_NUMBER"' in res.stdout, res.stderr
    assert "HEAVY=\n" in res.stderr, res.stderr


def test_presidio_engine_gives_the_same_answers() -> None:
    """The same recognizers inside Presidio's AnalyzerEngine (for callers who want Presidio's API)."""
    from vault.detection.presidio import build_presidio_analyzer

    ours, theirs = build_analyzer(), build_presidio_analyzer()
    texts = ["김민수님 010-1234-5678로 연락, 주민번호 900101-1234568", "Mr. John Smith, 221B Baker Street",
             "주문번호 2403151234567 송장 612345678901", "국민은행 계좌 123456-01-234567 예금주 홍길동"]
    for text in texts:
        for language in ("ko", "en", ANY_LANGUAGE):
            a = sorted((r.entity_type, r.start, r.end, round(r.score, 4)) for r in ours.analyze(text, language))
            b = sorted((r.entity_type, r.start, r.end, round(r.score, 4))
                       for r in theirs.analyze(text=text, language=language, score_threshold=0.0))
            assert a == b, (text, language)


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
