"""International and North American telephone numbers."""

from __future__ import annotations

import re
from typing import ClassVar

from vault.detection.entities import PHONE_NUMBER
from vault.detection.recognizers._base import LEFT, RIGHT, RegexPattern, RegexRecognizer, pattern


class IntlPhoneRecognizer(RegexRecognizer):
    """Detect ``+44 20 7946 0958``, ``(212) 555-0198``, ``212-555-0198`` and UK national numbers.

    Candidates are found by regex (fast, Hangul-safe edges) and then checked
    with :mod:`phonenumbers`: a ``+`` number must be a possible number for its
    country code, a national UK number a valid one. North American 3-3-4
    numbers are accepted on shape, since test and directory numbers (555-01xx)
    are common in CRM notes.
    """

    ENTITY = PHONE_NUMBER
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("e164", r"(?<![0-9A-Za-z+])(?P<value>\+[ ]?[1-9](?:[ .\-]?\(?\d{1,5}\)?){2,6})" + RIGHT, 0.75),
        pattern("nanp", LEFT + r"(?P<value>(?:1[ .\-])?(?:\(\d{3}\)[ ]?|\d{3}[ .\-])\d{3}[ .\-]\d{4})" + RIGHT, 0.55),
        pattern("uk_national", LEFT + r"(?P<value>0\d{2,4}[ ]\d{3,4}[ ]?\d{3,4})" + RIGHT, 0.55),
    )
    CONTEXT = (
        "phone",
        "tel",
        "mobile",
        "cell",
        "call",
        "contact",
        "fax",
        "whatsapp",
        "reach",
        "number is",
        "전화",
        "연락",
        "휴대폰",
    )
    NEGATIVE_CONTEXT = (
        "order no",
        "order #",
        "order number",
        "order id",
        "tracking",
        "invoice",
        "sku",
        "serial",
        "model",
        "주문",
        "송장",
        "account no",
        "account number",
    )

    def score_match(self, match: re.Match[str], pat: RegexPattern, text: str) -> tuple[int, int, float] | None:
        """Confirm the candidate with phonenumbers metadata."""
        import phonenumbers
        value = match.group("value")
        start, end = match.span("value")
        if pat.name == "nanp":
            return start, end, pat.score
        region = None if pat.name == "e164" else "GB"
        try:
            parsed = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            return None
        if pat.name == "e164":
            if not phonenumbers.is_possible_number(parsed):
                return None
            return start, end, pat.score + (0.1 if phonenumbers.is_valid_number(parsed) else 0.0)
        return (start, end, pat.score) if phonenumbers.is_valid_number(parsed) else None
