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
    """

    ENTITY = KR_BANK_ACCOUNT
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("account_grouped", LEFT + r"(?P<value>\d{2,6}(?:[ ]?-[ ]?\d{2,7}){1,3})" + RIGHT, 0.2),
        pattern("account_compact", LEFT + r"(?P<value>\d{10,14})" + RIGHT, 0.15),
    )
    CONTEXT = (
        "계좌", "은행", "입금", "송금", "이체", "예금주", "환불", "국민", "kb", "신한", "우리", "하나", "농협", "nh",
        "기업", "ibk", "카카오뱅크", "카카오", "토스", "케이뱅크", "새마을", "신협", "우체국", "수협", "sc제일",
        "씨티", "대구", "부산", "경남", "광주", "전북", "제주", "산업", "저축", "bank", "account", "acct",
        "deposit", "transfer", "refund",
    )  # fmt: skip
    NEGATIVE_CONTEXT = ("주문", "송장", "운송장", "order no", "tracking", "invoice", "모델", "sku", "품번")

    def score_match(self, match: re.Match[str], pat: RegexPattern, text: str) -> tuple[int, int, float] | None:
        """Keep 10-14 digit numbers; the context enhancer decides the rest."""
        digits = re.sub(r"\D", "", match.group("value"))
        if not 10 <= len(digits) <= 14 or len(set(digits)) == 1:
            return None
        start, end = match.span("value")
        return start, end, pat.score
