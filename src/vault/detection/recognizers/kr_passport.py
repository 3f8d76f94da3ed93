"""Korean passport number (여권번호)."""

from __future__ import annotations

from typing import ClassVar

from vault.detection.entities import KR_PASSPORT
from vault.detection.recognizers._base import LEFT, RIGHT, RegexPattern, RegexRecognizer, pattern


class KoreanPassportRecognizer(RegexRecognizer):
    """Detect passport numbers: ``M12345678`` (type letter + 8 digits) or the 2021 ``M123A4567`` form.

    Letters in either case (``m12345678``, ``M678f3456``: typed by hand, or
    lower-cased by a form). The shape is shared with model numbers and product
    codes, so a match alone stays below the default threshold; 여권/passport
    nearby lifts it.
    """

    ENTITY = KR_PASSPORT
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("passport", LEFT + r"(?P<value>[MSRGDTmsrgdt]\d{8})" + RIGHT, 0.35),
        pattern("passport_2021", LEFT + r"(?P<value>[MSRGDTmsrgdt]\d{3}[A-Za-z]\d{4})" + RIGHT, 0.35),
    )
    CONTEXT = ("여권", "passport", "pp no", "travel document", "여행증명서")
    NEGATIVE_CONTEXT = ("모델", "model", "품번", "sku", "상품코드", "주문", "order", "serial", "일련번호")
