"""Public suffixes (``com``, ``co.kr``, ``ac.uk``) from the list bundled with tldextract, read without importing it.

``import tldextract`` also imports ``requests`` and friends (a few hundred
milliseconds of a scan's start-up) only to offer downloads we never make. The
list itself is a plain file inside the installed package; this module finds
it without executing the package and applies the public suffix algorithm
(longest rule, ``*`` wildcards, ``!`` exceptions) to the ICANN section, which
is what ``tldextract.TLDExtract(suffix_list_urls=())`` does by default.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from vault.errors import ConfigurationError

SNAPSHOT = ".tld_set_snapshot"


def _snapshot_path() -> Path:
    spec = importlib.util.find_spec("tldextract")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / SNAPSHOT
        if path.exists():
            return path
    raise ConfigurationError("tldextract's bundled public suffix list was not found (is tldextract installed?)")


class SuffixList:
    """The ICANN part of the public suffix list."""

    def __init__(self, text: str) -> None:
        rules: set[str] = set()
        exceptions: set[str] = set()
        for raw in text.splitlines():
            line = raw.strip()
            if "===BEGIN PRIVATE DOMAINS===" in line:
                break
            if not line or line.startswith("//"):
                continue
            rule = line.split()[0].lower()
            if rule.startswith("!"):
                exceptions.add(rule[1:])
            else:
                rules.add(rule)
        self._rules = frozenset(rules)
        self._exceptions = frozenset(exceptions)

    def suffix_length(self, domain: str) -> int:
        """Number of labels of ``domain``'s public suffix; 0 when its top-level label is unknown."""
        labels = [_unicode(label) for label in domain.lower().rstrip(".").split(".")]
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if candidate in self._exceptions:
                return len(labels) - i - 1
            parent = ".".join(labels[i + 1 :])
            if candidate in self._rules or (parent and f"*.{parent}" in self._rules):
                return len(labels) - i
        return 0

    def registrable(self, domain: str) -> bool:
        """A known public suffix with a label in front of it (``naver.com``; not ``com``, ``host.local``)."""
        n = self.suffix_length(domain)
        return 0 < n < len(domain.rstrip(".").split("."))


def _unicode(label: str) -> str:
    """The list writes internationalized labels in Unicode (``한국``); mail addresses in punycode."""
    if not label.startswith("xn--"):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        return label


@lru_cache(maxsize=1)
def bundled_suffixes() -> SuffixList:
    """The suffix list shipped with tldextract (read once per process; never fetched)."""
    return SuffixList(_snapshot_path().read_text(encoding="utf-8"))
