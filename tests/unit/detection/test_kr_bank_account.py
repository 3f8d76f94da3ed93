from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("국민은행 123456-78-901234 예금주 홍길동", ["123456-78-901234"]),
        ("환불계좌: 신한 110-123-456789", ["110-123-456789"]),
        ("우리은행 1002-123-456789로 입금", ["1002-123-456789"]),
        ("카카오뱅크 3333-01-1234567", ["3333-01-1234567"]),
        ("토스뱅크 1000-1234-5678 송금", ["1000-1234-5678"]),
        ("농협 302-1234-5678-91", ["302-1234-5678-91"]),
        ("IBK기업은행 123-123456-01-012", ["123-123456-01-012"]),
        ("입금 계좌 12345678901234", ["12345678901234"]),
        ("Refund to account 110-123-456789 (Shinhan)", ["110-123-456789"]),
        # no bank wording: digits are just digits
        ("송장번호 6012-3456-7890", []),
        ("주문번호 123456-78-901234", []),
        ("참고 110-123-456789", []),
    ],
)
def test_kr_bank_account(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "KR_BANK_ACCOUNT", "ko") == expected
