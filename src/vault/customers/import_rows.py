"""Reading a customer CSV for the bulk import: the header check, row validation, undeclared-column
discovery and the import report. No database and no crypto: :mod:`vault.customers.importer` seals and
writes what this module accepts. Bad rows are reported by line number and field, never by value.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, BinaryIO

from vault.customers.errors import InvalidFieldError
from vault.policy.normalize import CHECK_DIGIT_UNVERIFIED

if TYPE_CHECKING:
    import uuid
    from pathlib import Path

    from vault.lib.pii import ColumnVerdict, PiiPort
    from vault.policy.catalogue import FieldCatalogue

CUSTOMER_COLUMNS = (
    "customer_ref", "name", "email", "phone", "birth_date", "gender", "postal_code", "city", "district",
    "address_line", "rrn",
)
CONSENT_COLUMNS = ("marketing_email", "marketing_sms", "marketing_sms_night", "analytics")
HEADER = CUSTOMER_COLUMNS + CONSENT_COLUMNS
#: Optional columns proving the imported consents: when the customer consented (YYYY-MM-DD) and the
#: notice version shown then. Without both, imported grants are recorded as unverified.
CONSENT_PROOF_COLUMNS = ("consent_date", "consent_notice_version")
#: Why a kept row carries a data-quality flag (vault.customers.quality), as written in the import report.
WARNING_REASONS = {
    CHECK_DIGIT_UNVERIFIED: "check digit does not match; kept, because numbers issued or re-issued since "
                            "October 2020 have none (flagged for a compliance officer to confirm)",
}
FLAG_VALUES = {"y": True, "n": False, "": None}
DEFAULT_ENCODING = "utf-8-sig"  # UTF-8, with or without the BOM spreadsheet programs write


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected row: line number in the file, the field at fault, and why (no values)."""

    line: int
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class RowWarning:
    """A kept row with a doubtful value: line number, the field, the data-quality flag and why (no values)."""

    line: int
    field: str
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A validated row."""

    line: int
    values: dict[str, str]
    consents: dict[str, bool]
    proof: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ImportReport:
    """What an import did."""

    rows: int = 0
    created: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    #: Rows kept with a data-quality flag (e.g. an RRN whose check digit does not match).
    warnings: list[RowWarning] = field(default_factory=list)
    refused: bool = False
    discovery: dict[str, ColumnVerdict] = field(default_factory=dict)
    dropped_columns: list[str] = field(default_factory=list)
    created_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Number of rows rejected."""
        return len({e.line for e in self.errors})


def unknown_columns(header: list[str]) -> list[str]:
    """Columns the field catalogue does not declare."""
    return [c for c in header if c not in HEADER and c not in CONSENT_PROOF_COLUMNS]


_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]{0,39}")


def shown_columns(names: list[str]) -> str:
    """Column names as quoted in a message: a name that does not look like one (a headerless file's first
    row holds names, phone numbers...) is never echoed, only counted."""
    plain = [n for n in names if _COLUMN_NAME.fullmatch(n)]
    hidden = len(names) - len(plain)
    out = repr(plain) if plain else ""
    if hidden:
        out += (" and " if plain else "") + (
            f"{hidden} column(s) whose names do not look like column names (not shown: is the header line missing?)")
    return out


def check_header(header: list[str], *, ignore_unknown: bool = False) -> RowError | None:
    """Refuse files with missing, repeated or (unless ``ignore_unknown``) undeclared columns (line 1)."""
    missing = [c for c in ("customer_ref",) if c not in header]
    unknown = [] if ignore_unknown else unknown_columns(header)
    dupes = sorted({c for c in header if header.count(c) > 1})
    if not (missing or unknown or dupes):
        return None
    parts = []
    if missing:
        parts.append(f"missing columns {missing}")
    if unknown:
        parts.append(f"unknown columns {shown_columns(unknown)} (not in the field catalogue; "
                     "refusing undeclared data)")
    if dupes:
        parts.append(f"repeated columns {shown_columns(dupes)}")
    return RowError(1, "(header)", "; ".join(parts) + f"; expected header: {','.join(HEADER)}")


def parse_row(line: int, header: list[str], cells: list[str], catalogue: FieldCatalogue) -> ImportRow | RowError:
    """Validate one data row (duplicates across rows are checked by the caller)."""
    if len(cells) != len(header):
        return RowError(line, "(row)", f"has {len(cells)} columns, header has {len(header)}")
    values: dict[str, str] = {}
    consents: dict[str, bool] = {}
    proof: dict[str, str] = {}
    for col, raw in zip(header, cells, strict=True):
        cell = raw.strip()
        if col in CONSENT_PROOF_COLUMNS:
            if cell:
                bad = _bad_proof(col, cell)
                if bad:
                    return RowError(line, col, bad)
                proof[col] = cell
            continue
        if col not in HEADER:
            continue  # an undeclared column the caller chose to drop: never stored
        if col in CONSENT_COLUMNS:
            flag = FLAG_VALUES.get(cell.lower(), "bad")
            if flag == "bad":
                return RowError(line, col, "consent flag must be y, n or empty")
            if flag is not None:
                consents[col] = bool(flag)
            continue
        if not cell:
            continue
        try:
            values[col] = catalogue[col].clean(cell)
        except InvalidFieldError as exc:
            return RowError(line, exc.field, exc.reason)
    if "customer_ref" not in values:
        return RowError(line, "customer_ref", "is required")
    return ImportRow(line, values, consents, proof)


def _bad_proof(col: str, cell: str) -> str | None:
    if col == "consent_date":
        try:
            date.fromisoformat(cell)
        except ValueError:
            return "must be a date YYYY-MM-DD"
        return None
    return None if len(cell) <= 40 else "must be at most 40 characters"


def _decoded(fh: BinaryIO, encoding: str) -> Iterator[str]:
    """Decode line by line, so rows before an undecodable line are still read (and kept)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    for raw in fh:
        yield decoder.decode(raw)
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def _decode_error(line: int, encoding: str) -> RowError:
    return RowError(line, "(file)", f"is not valid {encoding} text from this line on; nothing after it was read "
                                    "(save the file as UTF-8, or pass the file's encoding, e.g. --encoding cp949)")


def _lines(path: Path, *, ignore_unknown: bool = False,
           encoding: str = DEFAULT_ENCODING) -> Iterator[tuple[int, list[str]] | RowError]:
    """The header check, then (line number, cells) of every non-blank data row."""
    with path.open("rb") as fh:
        reader = csv.reader(_decoded(fh, encoding))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            yield RowError(1, "(header)", "file is empty")
            return
        except csv.Error as exc:
            yield RowError(1, "(header)", f"not a CSV file: {exc}")
            return
        except UnicodeDecodeError:
            yield _decode_error(1, encoding)
            return
        bad = check_header(header, ignore_unknown=ignore_unknown)
        if bad is not None:
            yield bad
            return
        yield 1, header
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RowError(reader.line_num, "(row)", f"malformed CSV: {exc}")
                continue
            except UnicodeDecodeError:
                yield _decode_error(reader.line_num + 1, encoding)
                return
            if any(c.strip() for c in cells):
                yield reader.line_num, cells


def discover_columns(path: Path, columns: Sequence[str], detector: PiiPort,
                     sample_size: int = 200, encoding: str = DEFAULT_ENCODING) -> dict[str, ColumnVerdict]:
    """Sample undeclared columns and classify them with the PII detector."""
    samples: dict[str, list[str]] = {c: [] for c in columns}
    with path.open(newline="", encoding=encoding, errors="replace") as fh:
        for i, rec in enumerate(csv.DictReader(fh)):
            if i >= sample_size * 5:
                break
            for c in columns:
                value = (rec.get(c) or "").strip()
                if value and len(samples[c]) < sample_size:
                    samples[c].append(value)
    return {c: detector.classify_column(v, sample_size=sample_size) for c, v in samples.items()}


def describe_discovery(found: Mapping[str, ColumnVerdict]) -> str:
    """One line per column: what it looks like (types and shares only, never values)."""
    parts = []
    for name, v in found.items():
        col = name if _COLUMN_NAME.fullmatch(name) else "(unnamed)"
        if v.is_pii:
            kind = v.entity_type or "mixed personal data"
            parts.append(f"column {col!r} looks like PII ({kind} in {v.ratio:.0%} of {v.sampled} sampled values)")
        else:
            parts.append(f"column {col!r}: no PII found in {v.sampled} sampled values")
    return "; ".join(parts)


def write_report(report: ImportReport, path: Path) -> None:
    """Write rejected rows and kept-with-warning rows as CSV: line, field, reason, severity (never values)."""
    items = sorted([(e.line, e.field, e.reason, "error") for e in report.errors]
                   + [(w.line, w.field, f"{w.reason} [{w.code}]", "warning") for w in report.warnings])
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["line", "field", "reason", "severity"])
        w.writerows(items)
