"""E-mail addresses."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from vault.detection.entities import EMAIL_ADDRESS
from vault.detection.recognizers._base import RegexPattern, RegexRecognizer, pattern
from vault.detection.suffixes import SuffixList, bundled_suffixes

if TYPE_CHECKING:
    import tldextract


def offline_extractor() -> tldextract.TLDExtract:
    """A tldextract instance that only ever reads its bundled public-suffix snapshot (for Presidio's recognizers).

    ``suffix_list_urls=()`` stops the fetch of publicsuffix.org that
    ``tldextract.extract`` would attempt on first use; ``cache_dir=None`` stops
    it writing to ``~/.cache``. The vault's own recognizer reads the same list
    through :mod:`vault.detection.suffixes`, without importing tldextract.
    """
    import tldextract

    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


class EmailAddressRecognizer(RegexRecognizer):
    """Detect addresses such as ``gildong@naver.com``, also with a particle attached (``...com으로``).

    The domain's suffix must be on the public suffix list (tldextract's bundled snapshot),
    which drops ``user@localhost`` and ``file@v1.2``-style look-alikes.
    """

    ENTITY = EMAIL_ADDRESS
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern(
            "email",
            r"(?<![A-Za-z0-9._%+\-])(?P<value>[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@"
            r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![A-Za-z0-9\-])",
            0.5,
        ),
    )
    CONTEXT = ("email", "e-mail", "mail", "메일", "이메일", "전자우편")

    def __init__(self, supported_language: str = "ko", suffixes: SuffixList | None = None) -> None:
        self._suffixes = suffixes or bundled_suffixes()
        super().__init__(supported_language)

    def validate_result(self, pattern_text: str) -> bool | None:
        """True when the domain ends in a known public suffix."""
        local, _, domain = pattern_text.rpartition("@")
        if ".." in local or local.endswith("."):
            return False
        return self._suffixes.registrable(domain)
