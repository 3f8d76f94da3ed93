from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # pre-2020 numbers with a valid check digit, any writing
        ("주민번호 900101-1234568", ["900101-1234568"]),
        ("주민번호는900101-1234568입니다", ["900101-1234568"]),
        ("주민등록번호: 8503152345678로 확인", ["8503152345678"]),
        ("RRN 020704-3123459 on file", ["020704-3123459"]),
        ("900101 - 1234568", ["900101 - 1234568"]),
        # post-2020 numbers carry no checksum: a real birth date and gender digit are enough
        ("주민번호 210315-3847261 (2021년 출생)", ["210315-3847261"]),
        ("신분 확인 900101-1234567 완료", ["900101-1234567"]),
        # re-issued since October 2020 to people born long before: random back digits, still an RRN
        ("2022년 재발급 주민번호 851203-1938274 확인", ["851203-1938274"]),
        ("re-issued RRN 570811-2048366 (changed after identity theft)", ["570811-2048366"]),
        # structurally impossible: the same rule as import validation refuses them
        ("주민번호 270101-3234567", []),  # born in the future
        # hard negatives: impossible dates, foreigner digit, future dates, glued to longer codes
        ("주민번호 901301-1234568", []),
        ("주민번호 900230-1234568", []),
        ("ORD-900101-1234568 주문", []),
        ("9001011234568123", []),
        ("주문번호 2403151234567 배송 준비", []),
        ("date 2024-03-15 ref 123456", []),
    ],
)
def test_kr_rrn(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "KR_RRN", "ko") == expected


def test_checksum_valid_rrn_scores_higher_than_unchecked(detector: PiiDetector) -> None:
    valid = detector.analyze("900101-1234568")[0]
    unchecked = detector.analyze("900101-1234567")[0]
    assert valid.score == 1.0
    assert 0.5 <= unchecked.score < valid.score


@pytest.mark.parametrize(
    "value",
    ["900101-1234568", "900101-1234567", "851203-1938274", "210315-3847261", "901301-1234568", "900230-1234568",
     "270101-3234567", "200930-4123456", "201001-4123456"],
)
def test_detection_follows_the_validation_rule(detector: PiiDetector, value: str) -> None:
    """One rule (vault.lib.krid): what import validation stores, the detector finds, and nothing else."""
    from vault.customers.errors import InvalidFieldError
    from vault.policy import normalize

    try:
        normalize.rrn("rrn", value)
        stored = True
    except InvalidFieldError:
        stored = False
    assert (found(detector, f"주민번호 {value}", "KR_RRN", "ko") == [value]) is stored
