from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("67.151.59.176에서 로그인 시도", ["67.151.59.176"]),
        ("접속 IP: 192.168.0.12", ["192.168.0.12"]),
        ("from 2001:db8::8a2e:370:7334 at 10:30", ["2001:db8::8a2e:370:7334"]),
        ("login from 8.8.8.8.", ["8.8.8.8"]),
        # versions, out-of-range octets, dates
        ("버전 2.1.0.3 배포", []),
        ("v1.2.3.4", []),
        ("999.1.1.1", []),
        ("2024.03.15 방문", []),
        ("회의 10:30:45", []),
    ],
)
def test_ip_address(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "IP_ADDRESS", "ko") == expected
