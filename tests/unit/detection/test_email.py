from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gildong@naver.com으로 보내주세요", ["gildong@naver.com"]),
        ("이메일:kim.minsu+shop@company.co.kr", ["kim.minsu+shop@company.co.kr"]),
        ("Contact john.smith@example.org.", ["john.smith@example.org"]),
        ("a@b.io, c_d@e-f.com", ["a@b.io", "c_d@e-f.com"]),
        # not real domains / not addresses
        ("user@localhost 로그", []),
        ("build@v1.zzzzz", []),
        ("@naver.com 도메인", []),
    ],
)
def test_email(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "EMAIL_ADDRESS", "ko") == expected
