"""Korean business registration number (사업자등록번호)."""

from __future__ import annotations

import re
from typing import ClassVar

from vault.detection.checksums import brn_checksum_ok
from vault.detection.entities import KR_BRN
from vault.detection.recognizers._base import LEFT, RIGHT, RegexPattern, RegexRecognizer, pattern


class KoreanBrnRecognizer(RegexRecognizer):
    """Detect ``123-45-67890`` business numbers; the check digit drops look-alikes.

    Even a valid checksum leaves one random ten-digit number in ten, so the
    unhyphenated form needs context (사업자...).
    """

    ENTITY = KR_BRN
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("brn", LEFT + r"(?P<value>\d{3}[ ]?-[ ]?\d{2}[ ]?-[ ]?\d{5})" + RIGHT, 0.85),
        pattern("brn_compact", LEFT + r"(?P<value>\d{10})" + RIGHT, 0.4),
    )
    CONTEXT = ("사업자", "등록번호", "business registration", "business number", "brn", "tax id", "vat", "법인")
    NEGATIVE_CONTEXT = ("주문", "송장", "운송장", "order", "tracking", "invoice", "계좌", "account", "전화", "phone")

    def score_match(self, match: re.Match[str], pat: RegexPattern, text: str) -> tuple[int, int, float] | None:
        """Keep only numbers whose check digit is right."""
        if not brn_checksum_ok(re.sub(r"\D", "", match.group("value"))):
            return None
        start, end = match.span("value")
        return start, end, pat.score
