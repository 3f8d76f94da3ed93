from __future__ import annotations

import pytest

from vault.detection import PiiDetector


@pytest.mark.parametrize(
    "text",
    [
        "주민번호는 900101-1234567",  # particle attached to the context word
        "주민번호:900101-1234567",
        "900101-1234567(주민번호)",  # label after the value
    ],
)
def test_korean_context_word_with_particle_raises_score(detector: PiiDetector, text: str) -> None:
    bare = detector.analyze("900101-1234567")[0].score
    assert detector.analyze(text, "ko")[0].score > bare


def test_negative_context_closer_than_positive_wins(detector: PiiDetector) -> None:
    text = "주민번호 900101-1234568 확인, 주문번호 2403151234567"
    assert [text[e.start : e.end] for e in detector.analyze(text, "ko")] == ["900101-1234568"]


def test_context_does_not_cross_a_line_break(detector: PiiDetector) -> None:
    assert detector.analyze("여권\nM12345678", "ko") == []
    assert len(detector.analyze("여권 M12345678", "ko")) == 1
