from __future__ import annotations

import pytest

from vault.detection import DetectedEntity, PiiDetector
from vault.detection.overlap import resolve_overlaps


def test_higher_score_wins_an_overlap() -> None:
    phone = DetectedEntity("PHONE_NUMBER", 0, 13, 1.0)
    account = DetectedEntity("KR_BANK_ACCOUNT", 0, 13, 0.55)
    assert resolve_overlaps([account, phone]) == [phone]


def test_priority_breaks_a_score_tie() -> None:
    rrn = DetectedEntity("KR_RRN", 5, 19, 1.0)
    card = DetectedEntity("CREDIT_CARD", 5, 19, 1.0)
    assert resolve_overlaps([card, rrn]) == [rrn]


def test_disjoint_spans_are_all_kept_in_start_order() -> None:
    a = DetectedEntity("PERSON", 10, 13, 0.7)
    b = DetectedEntity("EMAIL_ADDRESS", 0, 8, 1.0)
    c = DetectedEntity("PHONE_NUMBER", 13, 20, 0.6)
    assert resolve_overlaps([a, b, c]) == [b, a, c]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an RRN is also a 13-digit account number when 은행 is nearby
        ("은행 업무용 주민번호 900101-1234568", [("KR_RRN", "900101-1234568")]),
        # a business number also has the grouped digits of an account
        ("사업자등록번호 220-81-23455 입금 확인", [("KR_BRN", "220-81-23455")]),
        # a mobile number inside a bank sentence stays a phone number
        ("입금자 연락처 010-1234-5678", [("PHONE_NUMBER", "010-1234-5678")]),
        # an IP is not four numbers
        ("계좌 문의 IP 10.20.30.40", [("IP_ADDRESS", "10.20.30.40")]),
    ],
)
def test_detector_reports_one_type_per_span(detector: PiiDetector, text: str, expected: list[tuple[str, str]]) -> None:
    assert [(e.type, text[e.start : e.end]) for e in detector.analyze(text, "ko")] == expected
