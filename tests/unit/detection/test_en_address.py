from __future__ import annotations

import pytest

from vault.detection import PiiDetector

from .helpers import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I live at 742 Evergreen Terrace, Springfield, IL 62704.", ["742 Evergreen Terrace, Springfield, IL 62704"]),
        ("Ship to 221B Baker Street, London NW1 6XE", ["221B Baker Street, London NW1 6XE"]),
        ("1600 Pennsylvania Ave NW, Washington", ["1600 Pennsylvania Ave NW, Washington"]),
        ("Send it to PO Box 1234", ["PO Box 1234"]),
        ("350 5th Ave, Apt 4B", ["350 5th Ave, Apt 4B"]),
        # numbers followed by ordinary words
        ("We sold 300 units on Main day", []),
        ("version 2 release notes", []),
    ],
)
def test_english_address(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "LOCATION", "en") == expected
