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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # road-name address rules: 시/도 + 시/군/구 + 로/길 + 건물번호, also 세종 (no 시/군/구) and 읍/면 + 리 (지번)
        ("세종특별자치시 한누리대로 2130", ["세종특별자치시 한누리대로 2130"]),
        ("충청남도 공주시 우성면 한천리 123 자택", ["충청남도 공주시 우성면 한천리 123"]),
        ("경기도 화성시 봉담읍 동화길 33", ["경기도 화성시 봉담읍 동화길 33"]),
        ("대구 수성구 달구벌대로 2450 101동 502호", ["대구 수성구 달구벌대로 2450 101동 502호"]),
    ],
)
def test_road_name_address_rules(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "LOCATION", "ko") == expected
