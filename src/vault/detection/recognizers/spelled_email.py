"""E-mail addresses spelled out to dodge a filter: ``hong at example dot com``, ``hong(at)example(dot)com``,
``hong[at]example[dot]co[dot]kr``, ``hong 골뱅이 example 점 com``."""

from __future__ import annotations

import re
from typing import ClassVar

from vault.detection.entities import EMAIL_ADDRESS
from vault.detection.recognizers._base import RegexPattern, RegexRecognizer, pattern
from vault.detection.suffixes import SuffixList, bundled_suffixes

_AT = r"(?:\s*[\(\[\{<]\s*(?:at|AT|골뱅이)\s*[\)\]\}>]\s*|\s+(?:at|AT)\s+|\s*골뱅이\s*)"
_DOT = r"(?:\s*[\(\[\{<]\s*(?:dot|DOT|점)\s*[\)\]\}>]\s*|\s+(?:dot|DOT)\s+|\s*(?:닷|점)\s*)"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_SPLIT_AT = re.compile(_AT)
_SPLIT_DOT = re.compile(_DOT)


class SpelledEmailRecognizer(RegexRecognizer):
    """Detect an address whose ``@`` and dots are written as words; the rebuilt domain must end in a
    known public suffix (so ``meet at noon dot`` is not an address)."""

    ENTITY = EMAIL_ADDRESS
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("spelled_email",
                rf"(?<![A-Za-z0-9._%+\-])(?P<value>[A-Za-z0-9][A-Za-z0-9._%+\-]{{0,63}}{_AT}{_LABEL}"
                rf"(?:{_DOT}{_LABEL})+)(?![A-Za-z0-9\-])", 0.6),
    )
    CONTEXT = ("email", "e-mail", "mail", "메일", "이메일", "전자우편")

    def __init__(self, supported_language: str = "ko", suffixes: SuffixList | None = None) -> None:
        self._suffixes = suffixes or bundled_suffixes()
        super().__init__(supported_language)

    def validate_result(self, pattern_text: str) -> bool | None:
        """True when the spelled-out domain ends in a known public suffix."""
        parts = _SPLIT_AT.split(pattern_text, maxsplit=1)
        if len(parts) != 2:
            return False
        return self._suffixes.registrable(".".join(_SPLIT_DOT.split(parts[1])))
