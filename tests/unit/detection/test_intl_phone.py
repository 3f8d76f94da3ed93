from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call me at (212) 555-0198 tomorrow", ["(212) 555-0198"]),
        ("phone: 212-555-0198.", ["212-555-0198"]),
        ("+1 212 555 0198", ["+1 212 555 0198"]),
        ("UK office +44 20 7946 0958", ["+44 20 7946 0958"]),
        ("London 020 7946 0958", ["020 7946 0958"]),
        ("Paris +33 1 42 68 53 00로 연락", ["+33 1 42 68 53 00"]),
        # hard negatives
        ("order number 212-555-0198 shipped", []),
        ("version 1.2.3", []),
        ("Total $1,234.56 paid", []),
    ],
)
def test_intl_phone(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "PHONE_NUMBER", "en") == expected
