from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("김민수님 문의", ["김민수"]),
        ("김민수 고객님께 안내", ["김민수"]),
        ("박지훈 과장 연락 요망", ["박지훈"]),
        ("성함은 최지우이고 연락 주심", ["최지우"]),
        ("수령인: 이영희", ["이영희"]),
        ("상담원 정하늘: 처리 완료", ["정하늘"]),
        ("남궁민수 씨가 방문", ["남궁민수"]),
        ("김준님 요청", ["김준"]),
        ("김철수 010-2222-3333", ["김철수"]),
        ("김민수", ["김민수"]),
        # vocabulary that parses as surname + syllables
        ("신규 고객님 가입, 우수 고객님 혜택 안내", []),
        ("선생님께 전달, 기사님 도착", []),
        ("고객 정보 변경 요청", []),
        ("이번 주 배송 예정", []),
        ("전화 고객 응대", []),
    ],
)
def test_hangul_name(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "PERSON", "ko") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("안녕하세요, 저는 김민수입니다.", ["김민수"]),
        ("제 이름은 박서준이고 전화번호는 010 5555 1234 입니다", ["박서준"]),
        ("예금주 손길", ["손길"]),
        ("저는 배송중입니다", []),
    ],
)
def test_self_introduction_and_strong_cues(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "PERSON", "ko") == expected
