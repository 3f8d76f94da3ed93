from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("카드번호 4111-1111-1111-1111로 결제", ["4111-1111-1111-1111"]),
        ("card 5500 0000 0000 0004", ["5500 0000 0000 0004"]),
        ("Amex 3782 822463 10005", ["3782 822463 10005"]),
        ("4111111111111111", ["4111111111111111"]),
        ("국내카드 9403-1234-5678-9019", ["9403-1234-5678-9019"]),
        # Luhn failures and look-alikes
        ("카드 4111-1111-1111-1112", []),
        ("주문번호 1234-5678-9012-3456", []),
        ("0000 0000 0000 0000", []),
    ],
)
def test_credit_card(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "CREDIT_CARD", "ko") == expected
