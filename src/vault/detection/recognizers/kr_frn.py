"""Korean foreigner registration number (외국인등록번호)."""

from __future__ import annotations

import re
from typing import ClassVar

from vault.detection.entities import KR_FRN
from vault.detection.recognizers._base import LEFT, RIGHT, RegexPattern, RegexRecognizer, pattern
from vault.lib.krid import CheckDigit, MalformedNumberError, parse_digits


class KoreanFrnRecognizer(RegexRecognizer):
    """Detect foreigner registration numbers: RRN layout with gender digit 5-8."""

    ENTITY = KR_FRN
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("frn", LEFT + r"(?P<value>\d{6}(?P<sep>[ ]?[-–][ ]?|)[5-8]\d{6})" + RIGHT, 0.6),
    )
    CONTEXT = (
        "외국인", "등록번호", "외국인등록", "거소", "frn", "foreigner", "alien registration", "arc", "residence card",
        "registration number",
    )  # fmt: skip
    NEGATIVE_CONTEXT = ("주문", "송장", "운송장", "order", "tracking", "invoice", "sku", "상품코드", "품번", "모델")

    def score_match(self, match: re.Match[str], pat: RegexPattern, text: str) -> tuple[int, int, float] | None:
        """Drop impossible numbers (:func:`vault.lib.krid.parse_digits`); score by check digit, then writing."""
        try:
            number = parse_digits(re.sub(r"\D", "", match.group("value")))
        except MalformedNumberError:
            return None
        start, end = match.span("value")
        if number.check_digit is CheckDigit.VALID:
            return start, end, self.VALIDATED_SCORE
        return start, end, pat.score if match.group("sep") else 0.5
