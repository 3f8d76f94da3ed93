"""Payment card numbers."""

from __future__ import annotations

from typing import ClassVar

from vault.detection.checksums import digits_only, luhn_ok
from vault.detection.entities import CREDIT_CARD
from vault.detection.recognizers._base import LEFT, RIGHT, RegexPattern, RegexRecognizer, pattern


class PaymentCardRecognizer(RegexRecognizer):
    """Detect card numbers in 4-4-4-4, Amex 4-6-5 and Diners 4-6-4 groupings or unbroken; Luhn decides."""

    ENTITY = CREDIT_CARD
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("card_16_19", LEFT + r"(?P<value>[2-69]\d{3}(?P<s>[ ]?-[ ]?|[ ])\d{4}(?P=s)\d{4}(?P=s)\d{4}"
                r"(?:(?P=s)\d{1,3})?)" + RIGHT, 0.6),
        pattern("card_amex_diners", LEFT + r"(?P<value>3\d{3}(?P<s>[ ]?-[ ]?|[ ])\d{6}(?P=s)\d{4,5})" + RIGHT, 0.6),
        pattern("card_compact", LEFT + r"(?P<value>[2-69]\d{14,15})" + RIGHT, 0.4),
    )  # fmt: skip
    CONTEXT = ("카드", "card", "visa", "master", "amex", "결제", "신용", "체크", "credit", "debit", "cc")

    def validate_result(self, pattern_text: str) -> bool | None:
        """Luhn check; also rejects a run of one repeated digit."""
        digits = digits_only(pattern_text)
        return luhn_ok(digits) and len(set(digits)) > 1
