from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("외국인등록번호 900101-5123452", ["900101-5123452"]),
        ("외국인번호는 8802126123458입니다", ["8802126123458"]),
        ("ARC number 900101-5234567 verified", ["900101-5234567"]),
        ("등록번호 010203-7123456로 조회", ["010203-7123456"]),
        # gender digits 1-4 are citizens, not foreigners
        ("외국인등록번호 900101-1234568", []),
        ("외국인등록번호 901341-5123452", []),
        ("모델 9001015123456", []),
    ],
)
def test_kr_frn(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "KR_FRN", "ko") == expected
