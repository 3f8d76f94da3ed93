"""Issue 10, finding 14: note redaction sees full-width forms, spaced numbers and spelled-out addresses.

Detection runs on an NFKC-folded copy (and one with the spaces between digits collapsed) and
reports offsets into the original text.
"""

from __future__ import annotations

import pytest

from vault.detection import PiiDetector
from vault.detection.folding import collapse_digit_spacing, fold, to_original


@pytest.mark.parametrize(("text", "entity", "value"), [
    ("연락처 ０１０－１２３４－５６７８ 입니다", "PHONE_NUMBER", "０１０－１２３４－５６７８"),
    ("메일은 ｈｏｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ 으로", "EMAIL_ADDRESS", "ｈｏｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
    ("mail hong＠example．com please", "EMAIL_ADDRESS", "hong＠example．com"),
    ("주민번호 9 0 0 1 0 1 - 1 2 3 4 5 6 8 입니다", "KR_RRN", "9 0 0 1 0 1 - 1 2 3 4 5 6 8"),
    ("주민번호 900101 - 1234568", "KR_RRN", "900101 - 1234568"),
    ("전화 010 1234 5678 주세요", "PHONE_NUMBER", "010 1234 5678"),
    ("write to hong at example dot com today", "EMAIL_ADDRESS", "hong at example dot com"),
    ("메일 hong(at)example(dot)co(dot)kr", "EMAIL_ADDRESS", "hong(at)example(dot)co(dot)kr"),
    ("이메일 hong 골뱅이 naver 닷 com 입니다", "EMAIL_ADDRESS", "hong 골뱅이 naver 닷 com"),
])
def test_evasive_forms_are_found_at_their_original_offsets(detector: PiiDetector, text: str, entity: str,
                                                           value: str) -> None:
    found = {(e.type, text[e.start:e.end]) for e in detector.analyze(text, "ko")}
    assert (entity, value) in found, found


def test_redaction_removes_evasive_forms(detector: PiiDetector) -> None:
    text = "고객 연락처 ０１０－１２３４－５６７８, 메일 ｈｏｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ, 주민 900101 - 1234568"
    redacted = detector.redact(text, "ko").text
    for secret in ("１２３４", "ｈｏｎｇ", "1234568"):
        assert secret not in redacted, redacted


@pytest.mark.parametrize("text", ["meet me at noon dot", "I bought 2 3 times", "at home dot"])
def test_ordinary_text_stays_clean(detector: PiiDetector, text: str) -> None:
    assert [e for e in detector.analyze(text, "en") if e.type in ("EMAIL_ADDRESS", "KR_RRN")] == []


def test_offset_map() -> None:
    folded, index = fold("a０１b")
    assert folded == "a01b" and index == [0, 1, 2, 3]
    collapsed, kept = collapse_digit_spacing("0 1 - 2", list(range(7)))
    assert collapsed == "01-2"
    assert to_original(kept, 0, len(collapsed)) == (0, 7)
    ligature, index = fold("ﬁ1")  # one character folding into two
    assert ligature == "fi1" and index == [0, 0, 1]
