"""Korean bank account numbers (계좌번호)."""

from __future__ import annotations

import re
from typing import ClassVar

from vault.detection.entities import KR_BANK_ACCOUNT
from vault.detection.recognizers._base import LEFT, RIGHT, RegexPattern, RegexRecognizer, pattern


class KoreanBankAccountRecognizer(RegexRecognizer):
    """Detect account numbers next to a bank name or 계좌/입금 wording.

    Korean banks use 10-14 digits in bank-specific groupings (국민 6-2-6,
    신한 3-3-6, 우리 4-3-6, 카카오뱅크 4-2-7...). Without bank context a digit
    group is just a number, so a bare match scores below any threshold.

    Delivery and order numbers have the same shapes (CJ대한통운 12 digits,
    우체국 13, order numbers 10-14) and sit next to words such as 환불 or 입금
    in complaints. So a number whose nearest label before it (same line) is a
    delivery/order word (:data:`NOT_ACCOUNT`) is not an account, whatever bank
    words appear further away; and city names (부산, 대구...) count as bank
    context only as part of a bank's name (부산은행), since they are mostly
    parts of addresses.
    """

    ENTITY = KR_BANK_ACCOUNT
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("account_grouped", LEFT + r"(?P<value>\d{2,6}(?:[ ]?-[ ]?\d{2,7}){1,3})" + RIGHT, 0.2),
        pattern("account_compact", LEFT + r"(?P<value>\d{10,14})" + RIGHT, 0.15),
    )
    CONTEXT = (
        "계좌", "은행", "입금", "송금", "이체", "예금주", "환불", "국민", "kb", "신한", "우리", "하나", "농협", "nh",
        "기업", "ibk", "카카오뱅크", "토스", "케이뱅크", "새마을", "신협", "수협", "sc제일", "씨티",
        "저축은행", "bank", "account", "acct", "deposit", "transfer", "refund",
    )  # fmt: skip
    NOT_ACCOUNT = (
        "주문", "송장", "운송장", "택배", "배송", "등기", "운송", "접수번호", "예약번호", "결제번호", "승인번호",
        "거래번호", "쿠폰", "회원번호", "고객번호", "사업자", "order", "tracking", "invoice", "shipment",
        "parcel", "waybill", "awb", "reference", "ref no", "booking", "모델", "sku", "품번", "상품코드",
    )  # fmt: skip
    NEGATIVE_CONTEXT = NOT_ACCOUNT
    #: Words that name an account outright: closer than a delivery word, they keep the number an account.
    ACCOUNT_WORDS = ("계좌", "예금주", "account", "acct", "은행", "bank")

    def score_match(self, match: re.Match[str], pat: RegexPattern, text: str) -> tuple[int, int, float] | None:
        """Keep 10-14 digit numbers; the context enhancer decides the rest."""
        digits = re.sub(r"\D", "", match.group("value"))
        if not 10 <= len(digits) <= 14 or len(set(digits)) == 1:
            return None
        start, end = match.span("value")
        before = text[max(0, start - 30) : start].lower()
        before = before[before.rfind("\n") + 1 :]
        if _nearest(before, self.NOT_ACCOUNT) < _nearest(before, self.ACCOUNT_WORDS):
            return None
        return start, end, pat.score


def _nearest(before: str, words: tuple[str, ...]) -> int:
    """Characters between the end of ``before`` and the closest of ``words`` in it (a large number if none)."""
    best = 1 << 30
    for word in words:
        pos = before.rfind(word)
        if pos >= 0:
            best = min(best, len(before) - pos - len(word))
    return best
