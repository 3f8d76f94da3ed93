"""International bank account numbers (IBAN)."""

from __future__ import annotations

import re
from typing import ClassVar

from vault.detection.checksums import IBAN_LENGTHS, iban_ok
from vault.detection.entities import IBAN_CODE
from vault.detection.recognizers._base import RegexPattern, RegexRecognizer, pattern


class IbanCodeRecognizer(RegexRecognizer):
    """Detect IBANs, compact or printed in groups of four (``DE89 3704 0044 0532 0130 00``).

    The match may run into a following upper-case word; it is cut at the
    country's registered length before the mod-97 check.
    """

    ENTITY = IBAN_CODE
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("iban", r"(?<![0-9A-Za-z])(?P<value>[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30})", 0.5),
    )
    CONTEXT = ("iban", "bank", "account", "계좌", "송금", "wire", "transfer", "swift", "bic")

    def score_match(self, match: re.Match[str], pat: RegexPattern, text: str) -> tuple[int, int, float] | None:
        """Trim to the registered length, then require mod-97 and a clean right edge."""
        start = match.start("value")
        raw = match.group("value")
        length = IBAN_LENGTHS.get(raw[:2])
        if length is None:
            return None
        taken = 0
        end = start
        for offset, ch in enumerate(raw):
            if ch != " ":
                taken += 1
            if taken == length:
                end = start + offset + 1
                break
        else:
            return None
        if end < len(text) and text[end].isascii() and text[end].isalnum():
            return None
        if not iban_ok(text[start:end].replace(" ", "")):
            return None
        return start, end, self.VALIDATED_SCORE
