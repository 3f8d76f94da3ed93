"""Korean resident registration number (주민등록번호)."""

from __future__ import annotations

import re
from typing import ClassVar

from vault.detection.checksums import birth_date
from vault.detection.entities import KR_RRN
from vault.detection.recognizers._base import LEFT, RIGHT, RegexPattern, RegexRecognizer, pattern
from vault.lib.krid import rrn_checksum_ok


class KoreanRrnRecognizer(RegexRecognizer):
    """Detect RRNs: ``YYMMDD-GNNNNNN`` where G (1-4) gives sex and century.

    Numbers issued before October 2020 end in a check digit; later ones are
    random after the gender digit. A checksum-valid number scores 1.0; an
    unchecked one is kept when its birth date is a real past date (0.6 with a
    hyphen, 0.5 without), and context words (주민번호, RRN...) lift it further.
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
        """Score by checksum first, then by a plausible birth date."""
        digits = re.sub(r"\D", "", match.group("value"))
        if birth_date(digits) is None:
            return None
        start, end = match.span("value")
        if rrn_checksum_ok(digits):
            return start, end, self.VALIDATED_SCORE
        return start, end, pat.score if match.group("sep") else 0.5
