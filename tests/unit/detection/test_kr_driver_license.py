from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("운전면허번호 11-12-345678-90", ["11-12-345678-90"]),
        ("면허 서울 12-345678-90 확인", ["서울 12-345678-90"]),
        ("Driver license 28-05-123456-01 attached", ["28-05-123456-01"]),
        ("면허번호는 111234567890입니다", ["111234567890"]),
        ("11-12-345678-90으로 조회", ["11-12-345678-90"]),
        # region code outside 11-28, and bare twelve digits without context
        ("면허 35-12-345678-90", []),
        ("참조 111234567890", []),
    ],
)
def test_kr_driver_license(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "KR_DRIVER_LICENSE", "ko") == expected
