"""Korean telephone numbers: mobile, landline, VoIP and 15xx representative numbers."""

from __future__ import annotations

from typing import ClassVar

from vault.detection.entities import PHONE_NUMBER
from vault.detection.recognizers._base import LEFT, RIGHT, SEP, RegexPattern, RegexRecognizer, pattern

_AREA = r"(?:02|0[3-6][1-5]|0[78]0|050[2-8])"
_INTL = r"(?:\+[ ]?82|0082|\+82)[ ]?[-.]?[ ]?(?:\(0\)[ ]?|0)?"


class KoreanPhoneRecognizer(RegexRecognizer):
    """Detect Korean numbers in the ways people write them.

    ``010-1234-5678``, ``01012345678``, ``010 1234 5678``, ``010.1234.5678``,
    ``+82 10-1234-5678``, ``(02) 123-4567``, ``031-1234-5678``, ``1588-1234``.
    Unseparated landlines (``0212345678``) look like any ten-digit code, so they
    need context (전화, 연락처...).
    """

    ENTITY = PHONE_NUMBER
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("kr_intl", r"(?<![0-9A-Za-z])(?P<value>" + _INTL + r"(?:1[016789]|2|[3-6][1-5]|70)"
                + SEP + r"\d{3,4}" + SEP + r"\d{4})" + RIGHT, 0.8),
        pattern("kr_mobile", LEFT + r"(?P<value>01[016789](?:[ ]?[-.][ ]?|[ ])\d{3,4}(?:[ ]?[-.][ ]?|[ ])\d{4})"
                + RIGHT, 0.75),
        pattern("kr_mobile_compact", LEFT + r"(?P<value>01[016789]\d{7,8})" + RIGHT, 0.65),
        pattern("kr_landline", LEFT + r"(?P<value>(?:\(" + _AREA + r"\)[ ]?|" + _AREA + r"\)[ ]?|" + _AREA
                + r"(?:[ ]?[-.][ ]?|[ ]))\d{3,4}(?:[ ]?[-.][ ]?|[ ])\d{4})" + RIGHT, 0.65),
        pattern("kr_landline_compact", LEFT + r"(?P<value>" + _AREA + r"\d{7,8})" + RIGHT, 0.4),
        pattern("kr_representative", LEFT + r"(?P<value>1(?:5[4-9]\d|6[0-9]\d|8\d\d)[-. ]\d{4})" + RIGHT
                + r"(?![년원개명건%])", 0.55),
    )  # fmt: skip
    CONTEXT = (
        "전화", "연락", "휴대폰", "핸드폰", "휴대전화", "문자", "통화", "콜백", "팩스", "폰", "hp", "tel",
        "phone", "mobile", "cell", "call", "contact", "fax", "text me", "reach", "number is", "whatsapp",
    )  # fmt: skip
    NEGATIVE_CONTEXT = (
        "주문번호", "송장", "운송장", "주문", "모델", "품번", "상품코드", "일련번호", "시리얼", "order no", "order #",
        "order number", "order id", "tracking", "invoice", "sku", "serial", "model", "계좌",
        "account no", "account number", "acct",
    )  # fmt: skip
