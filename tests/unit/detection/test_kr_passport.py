from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("여권번호 M12345678", ["M12345678"]),
        ("여권번호는M12345678입니다", ["M12345678"]),
        ("passport no. S98765432", ["S98765432"]),
        ("신여권 M123A4567 제출", ["M123A4567"]),
        # lower case, as typed into forms (Presidio's Korean passport test table)
        ("여권번호 m12345678", ["m12345678"]),
        ("passport M678f3456 expires 2030", ["M678f3456"]),
        ("여권 m678f3456 사본 수령", ["m678f3456"]),
        # same shape without passport context: model numbers and codes
        ("모델 M12345678 재고 없음", []),
        ("M12345678", []),
        ("SKU-M12345678", []),
    ],
)
def test_kr_passport(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "KR_PASSPORT", "ko") == expected
