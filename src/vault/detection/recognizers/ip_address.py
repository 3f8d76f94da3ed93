"""IPv4 and IPv6 addresses."""

from __future__ import annotations

import ipaddress
from typing import ClassVar

from vault.detection.entities import IP_ADDRESS
from vault.detection.recognizers._base import RegexPattern, RegexRecognizer, pattern

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"


class IpAddressRecognizer(RegexRecognizer):
    """Detect ``67.151.59.176`` (also as ``67.151.59.176에서``) and IPv6 addresses.

    Version strings share the dotted-quad shape; a preceding ``v`` blocks the
    match, and 버전/version nearby lowers the score below the threshold.
    """

    ENTITY = IP_ADDRESS
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("ipv4", r"(?<![0-9A-Za-z.])(?P<value>(?:" + _OCTET + r"\.){3}" + _OCTET + r")(?![0-9A-Za-z]|\.\d)",
                0.6),
        pattern("ipv6", r"(?<![0-9A-Za-z:])(?P<value>(?=[0-9A-Fa-f:]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]{2,39}"
                r"(?:\.\d{1,3}){0,3})(?![0-9A-Za-z:])", 0.6),
    )  # fmt: skip
    CONTEXT = ("ip", "아이피", "접속", "로그인", "login", "address", "주소", "host", "server", "서버", "from")
    NEGATIVE_CONTEXT = ("버전", "version", "펌웨어", "firmware", "build", "빌드", "release", "릴리스")

    def validate_result(self, pattern_text: str) -> bool | None:
        """Parse with :mod:`ipaddress`; a parse failure drops the match."""
        try:
            ipaddress.ip_address(pattern_text)
        except ValueError:
            return False
        return None
