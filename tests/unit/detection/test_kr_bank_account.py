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
        # delivery and order numbers next to refund/deposit wording (independent-corpus false positives)
        ("환불 요청 건 운송장번호 6012345678901 확인 부탁드립니다", []),
        ("입금 확인 후 발송, CJ대한통운 송장 612345678901", []),
        ("환불 처리 중 주문번호 2024031512345 참고", []),
        ("Refund pending, tracking number 1234567890123", []),
        ("order no. 202403-15-123456 refunded to card", []),
        ("부산 해운대구 배송 송장 6012345678901", []),
        ("택배 접수번호 1234-5678-9012 입금 완료", []),
        # the account word is closer than the order word: still an account
        ("주문 취소, 환불계좌 신한 110-123-456789", ["110-123-456789"]),
        ("부산은행 101-2023-4567-08 예금주 김민수", ["101-2023-4567-08"]),
    ],
)
def test_kr_bank_account(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "KR_BANK_ACCOUNT", "ko") == expected
