"""Korean resident registration number (주민등록번호)."""

from __future__ import annotations

import re
from typing import ClassVar

from vault.detection.entities import KR_RRN
from vault.detection.recognizers._base import LEFT, RIGHT, RegexPattern, RegexRecognizer, pattern
from vault.lib.krid import CheckDigit, MalformedNumberError, parse_digits


class KoreanRrnRecognizer(RegexRecognizer):
    """Detect RRNs: ``YYMMDD-GNNNNNN`` where G (1-4) gives sex and century.

    The rule is the vault's own (:func:`vault.lib.krid.parse_digits`), the one
    import validation applies: a structurally impossible number (bad date,
    future birth date) is not an RRN; a matching check digit scores 1.0; a number
    without a verifiable check digit (issued or re-issued since October 2020,
    whatever the birth year) is still an RRN and scores 0.6 with a hyphen, 0.5
    without; context words (주민번호, RRN...) lift it further.
    """

    ENTITY = KR_RRN
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("rrn", LEFT + r"(?P<value>\d{6}(?P<sep>[ ]?[-–][ ]?|)[1-4]\d{6})" + RIGHT, 0.6),
    )
    CONTEXT = (
        "주민", "주민번호", "주민등록", "등록번호", "생년월일", "rrn", "resident registration", "resident number",
        "national id", "id number", "jumin",
    )  # fmt: skip
    NEGATIVE_CONTEXT = ("주문", "송장", "운송장", "order", "tracking", "invoice", "sku", "상품코드", "품번", "모델")

    def score_match(self, match: re.Match[str], pat: RegexPattern, text: str) -> tuple[int, int, float] | None:
        """Drop impossible numbers; score by check digit, then by the writing."""
        try:
            number = parse_digits(re.sub(r"\D", "", match.group("value")))
        except MalformedNumberError:
            return None
        start, end = match.span("value")
        if number.check_digit is CheckDigit.VALID:
            return start, end, self.VALIDATED_SCORE
        return start, end, pat.score if match.group("sep") else 0.5
