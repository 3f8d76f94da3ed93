from __future__ import annotations

import itertools

from vault.detection import PiiDetector


def test_offsets_are_python_character_indices(detector: PiiDetector) -> None:
    text = "홍길동님 전화 010-1234-5678로 주세요 😀 mail gildong@naver.com으로"
    got = {e.type: text[e.start : e.end] for e in detector.analyze(text, "ko")}
    assert got == {"PERSON": "홍길동", "PHONE_NUMBER": "010-1234-5678", "EMAIL_ADDRESS": "gildong@naver.com"}


def test_entities_are_sorted_and_disjoint(detector: PiiDetector) -> None:
    text = "Mr. John Smith, 4111 1111 1111 1111, 010-1234-5678, 900101-1234568, 1.2.3.4"
    entities = detector.analyze(text)
    assert [e.start for e in entities] == sorted(e.start for e in entities)
    assert all(a.end <= b.start for a, b in itertools.pairwise(entities))
    assert [e.type for e in entities] == ["PERSON", "CREDIT_CARD", "PHONE_NUMBER", "KR_RRN", "IP_ADDRESS"]


def test_unknown_or_missing_language_runs_every_recognizer(detector: PiiDetector) -> None:
    text = "김민수님 john@example.com"
    assert detector.analyze(text, None) == detector.analyze(text, "fr") == detector.analyze(text, "ko")


def test_threshold_filters_low_scores(detector: PiiDetector) -> None:
    text = "전화 1588-1234"
    assert detector.analyze(text, threshold=0.99) == []
    assert detector.analyze(text, threshold=0.1)


def test_empty_text(detector: PiiDetector) -> None:
    assert detector.analyze("") == []


def test_redact_uses_korean_labels(detector: PiiDetector) -> None:
    redacted = detector.redact("김민수님 연락처 010-1234-5678, 주민번호 900101-1234568", "ko")
    assert redacted.text == "[이름]님 연락처 [전화번호], 주민번호 [주민등록번호]"
    assert [e.type for e in redacted.entities] == ["PERSON", "PHONE_NUMBER", "KR_RRN"]


def test_redact_uses_presidio_style_labels_in_english(detector: PiiDetector) -> None:
    redacted = detector.redact("Email jane@example.com or call +44 20 7946 0958.", "en")
    assert redacted.text == "Email <EMAIL_ADDRESS> or call <PHONE_NUMBER>."


def test_redact_without_pii_returns_text_unchanged(detector: PiiDetector) -> None:
    assert detector.redact("배송 지연 문의", "ko").text == "배송 지연 문의"


def test_classify_phone_column(detector: PiiDetector) -> None:
    values = ["010-1234-5678", "010 9876 5432", "", "+82 10-5555-6666", "02-123-4567", "n/a"]
    verdict = detector.classify_column(values)
    assert verdict.entity_type == "PHONE_NUMBER"
    assert verdict.is_pii
    assert verdict.sampled == 5
    assert verdict.ratio == 0.8


def test_classify_name_column(detector: PiiDetector) -> None:
    verdict = detector.classify_column(["김민수", "이영희", "박지훈", "최지우"])
    assert (verdict.entity_type, verdict.is_pii) == ("PERSON", True)


def test_classify_non_pii_column(detector: PiiDetector) -> None:
    verdict = detector.classify_column(["ORD-1001", "ORD-1002", "45,000원", "2024-03-15", "SKU-AB-1234"])
    assert verdict.entity_type is None
    assert not verdict.is_pii
    assert verdict.type_counts == {}


def test_classify_free_text_column_with_scattered_pii(detector: PiiDetector) -> None:
    values = [
        "배송 전 010-1234-5678로 연락 바랍니다",
        "문의 메일 kim@example.com 회신",
        "김민수님 부재시 경비실",
        "빠른 배송 부탁",
    ]
    verdict = detector.classify_column(values)
    assert verdict.entity_type is None
    assert verdict.is_pii
    assert verdict.ratio == 0.75


def test_classify_empty_column(detector: PiiDetector) -> None:
    verdict = detector.classify_column(["", "  "])
    assert (verdict.entity_type, verdict.is_pii, verdict.sampled) == (None, False, 0)
