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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Korean road-name addresses in the official romanization
        ("12, Teheran-ro 20-gil, Gangnam-gu, Seoul 06236", ["12, Teheran-ro 20-gil, Gangnam-gu, Seoul 06236"]),
        ("Ship to 152 Teheran-ro, Gangnam-gu, Seoul, Korea", ["152 Teheran-ro, Gangnam-gu, Seoul, Korea"]),
        ("Deliver to Sejong-daero 209, Jongno-gu, Seoul 03172", ["Sejong-daero 209, Jongno-gu, Seoul 03172"]),
        ("Version 2 Teheran-ro road trip", []),
    ],
)
def test_romanized_korean_address(detector: PiiDetector, text: str, expected: list[str]) -> None:
    assert found(detector, text, "LOCATION", "en") == expected
