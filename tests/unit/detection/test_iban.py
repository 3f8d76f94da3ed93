from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IBAN DE89 3704 0044 0532 0130 00 please", ["DE89 3704 0044 0532 0130 00"]),
        ("GB82WEST12345698765432로 송금", ["GB82WEST12345698765432"]),
        ("FR1420041010050500013M02606 BIC BNPAFRPP", ["FR1420041010050500013M02606"]),
        ("DE89 3704 0044 0532 0130 00 ASAP", ["DE89 3704 0044 0532 0130 00"]),
        # bad check digits, unknown country
        ("DE88 3704 0044 0532 0130 00", []),
        ("ZZ89370400440532013000", []),
    ],
)
def test_iban(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "IBAN_CODE", "en") == expected
