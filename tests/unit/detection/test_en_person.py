from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dear Mr. John Smith,", ["John Smith"]),
        ("Spoke with Dr. Patel's office", ["Patel"]),
        ("Hi, my name is Sarah Johnson and", ["Sarah Johnson"]),
        ("Name: Zbigniew Brzezinski", ["Zbigniew Brzezinski"]),
        ("Regards,\nEmily Clark", ["Emily Clark"]),
        ("Customer David Lee called", ["David Lee"]),
        ("Spoke with Kim Min-su about it", ["Kim Min-su"]),
        ("Jihoon Park 고객 요청", ["Jihoon Park"]),
        # capitalised words that are not people
        ("Dear Customer, Thank You", []),
        ("Samsung Galaxy Note", []),
        ("Main Street Bank", []),
    ],
)
def test_english_name(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "PERSON", "en") == expected
