from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("생년월일: 1990년 3월 15일", ["1990년 3월 15일"]),
        ("생년월일은 1985.07.02 입니다", ["1985.07.02"]),
        ("고객 생일 1992-11-30, 쿠폰 발송", ["1992-11-30"]),
        ("김민수(1988년 5월 3일생) 고객", ["1988년 5월 3일"]),
        ("90년 3월 15일생 남성", ["90년 3월 15일"]),
        ("출생 19870412 확인", ["19870412"]),
        ("date of birth 1979-01-23", ["1979-01-23"]),
        ("DOB: 03/15/1990", []),  # month first (US) is ambiguous with day 15: 15th month refused
        ("DOB: 15/03/1990", ["15/03/1990"]),
        ("She was born on March 15, 1990 in Busan.", ["March 15, 1990"]),
        ("Born 2 February 1975, Seoul", ["2 February 1975"]),
        ("birthday: Sept 9, 2001", ["Sept 9, 2001"]),
        # dates that are not dates of birth
        ("주문일 2024-03-15 배송 예정", []),
        ("2024년 3월 15일 방문 예약", []),
        ("Order placed on March 15, 2024", []),
        ("생년월일 2099-01-01", []),  # in the future
        ("생년월일 1990-02-30", []),  # impossible
    ],
)
def test_birth_date(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "DATE_TIME", None) == expected
