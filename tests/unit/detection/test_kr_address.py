from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "배송지: 서울특별시 강남구 테헤란로 123, 101동 1203호로 변경",
            ["서울특별시 강남구 테헤란로 123, 101동 1203호"],
        ),
        ("경기도 성남시 분당구 판교역로 235 (삼평동)", ["경기도 성남시 분당구 판교역로 235 (삼평동)"]),
        ("강남구 역삼동 123-45 거주", ["강남구 역삼동 123-45"]),
        ("부산광역시 해운대구 우동 1234에서", ["부산광역시 해운대구 우동 1234"]),
        ("주소는 올림픽로35가길 10입니다", ["올림픽로35가길 10"]),
        ("제주특별자치도 제주시 첨단로 242", ["제주특별자치도 제주시 첨단로 242"]),
        # a city alone, or a road-like word with a number and no address context
        ("서울에서 만나요", []),
        ("3번 출구로 10분", []),
    ],
)
def test_korean_address(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "LOCATION", "ko") == expected
