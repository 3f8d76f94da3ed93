from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("사업자등록번호 123-45-67891", ["123-45-67891"]),
        ("사업자번호: 220-81-23455로 세금계산서", ["220-81-23455"]),
        ("BRN 101-81-00127", ["101-81-00127"]),
        ("사업자등록번호는 5048123450입니다", ["5048123450"]),
        # wrong check digit
        ("사업자등록번호 123-45-67890", []),
        ("사업자번호 220-81-23456", []),
        ("참조 5048123450", []),
    ],
)
def test_kr_brn(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "KR_BRN", "ko") == expected
