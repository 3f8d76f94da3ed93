"""Korean driver licence number (운전면허번호)."""

from __future__ import annotations

import re
from typing import ClassVar

from vault.detection.entities import KR_DRIVER_LICENSE
from vault.detection.recognizers._base import LEFT, RIGHT, RegexPattern, RegexRecognizer, pattern

_REGIONS = "서울|부산|경기|강원|충북|충남|전북|전남|경북|경남|제주|대구|인천|광주|대전|울산|세종"


class KoreanDriverLicenseRecognizer(RegexRecognizer):
    """Detect licence numbers ``RR-YY-NNNNNN-CC``.

    RR is a region code (11-28) or, on older cards, the region's name
    (``서울 12-345678-90``). The twelve digits without hyphens are an ordinary
    number, so that form needs context (면허...).
    """

    ENTITY = KR_DRIVER_LICENSE
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("dl_region_name", r"(?P<value>(?:" + _REGIONS + r")[ ]?\d{2}[- ]\d{6}[- ]\d{2})" + RIGHT, 0.85),
        pattern("dl", LEFT + r"(?P<value>(?P<region>\d{2})[- ]\d{2}[- ]\d{6}[- ]\d{2})" + RIGHT, 0.7),
        pattern("dl_compact", LEFT + r"(?P<value>(?P<region>\d{2})\d{10})" + RIGHT, 0.3),
    )
    CONTEXT = ("면허", "운전", "driver", "licence", "license", "dl no", "dl#", "driving")
    NEGATIVE_CONTEXT = ("주문", "송장", "운송장", "order", "tracking", "invoice", "계좌", "account")

    def score_match(self, match: re.Match[str], pat: RegexPattern, text: str) -> tuple[int, int, float] | None:
        """Reject numeric region codes outside 11-28."""
        region = match.groupdict().get("region")
        if region is not None and not 11 <= int(region) <= 28:
            return None
        start, end = match.span("value")
        return start, end, pat.score
