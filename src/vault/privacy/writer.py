"""Writing extracts atomically: a temporary file beside the target, renamed into place only when complete.

A failure at any point (a full disk, a refused release, an audit that cannot be
committed) leaves no partial file at the target path.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vault.privacy.errors import ExtractSpecError, ExtractWriteError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import polars as pl

FORMATS = {".csv": "csv", ".parquet": "parquet"}


def output_format(path: Path) -> str:
    """``csv`` or ``parquet`` from the file name.

    Raises:
        ExtractSpecError: any other suffix.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ExtractSpecError(f"--out: {path.name!r} must end in .csv or .parquet (the format follows the suffix)")
    return fmt


def manifest_path(out: Path) -> Path:
    """``OUT.manifest.json`` beside ``OUT``."""
    return out.with_name(out.name + ".manifest.json")


class StagedFile:
    """A temporary file in the target's directory; :meth:`commit` renames it over the target."""

    def __init__(self, target: Path) -> None:
        self.target = target
        if not target.parent.is_dir():
            raise ExtractWriteError(f"{target.parent}: directory does not exist")
        try:
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as exc:
            raise ExtractWriteError(f"{target}: cannot create a file there: {exc.strerror or exc}") from None
        os.close(fd)
        self.path = Path(name)

    def sha256(self) -> str:
        """Digest of the staged bytes."""
        h = hashlib.sha256()
        with self.path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()

    def commit(self) -> None:
        """Flush to disk and rename over the target (atomic on one file system)."""
        try:
            with self.path.open("rb+") as fh:
                os.fsync(fh.fileno())
            self.path.chmod(0o640)
            os.replace(self.path, self.target)
        except OSError as exc:
            self.discard()
            raise ExtractWriteError(f"{self.target}: cannot write: {exc.strerror or exc}") from None

    def discard(self) -> None:
        """Remove the staged file (nothing reaches the target)."""
        self.path.unlink(missing_ok=True)


_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def neutralize(cell: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula: one starting with ``= + - @``, tab or carriage
    return gets a leading apostrophe (plain numbers such as ``-3`` are left as they are)."""
    if cell.startswith(_FORMULA) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def write_rows(staged: StagedFile, fmt: str, columns: Sequence[str], rows: Sequence[Sequence[str | None]]) -> None:
    """Write ``rows`` (missing values as empty CSV cells / Parquet nulls) into the staged file.

    Raises:
        ExtractWriteError: the file system refused (the staged file is removed).
    """
    try:
        if fmt == "csv":
            with staged.path.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow([neutralize(c) for c in columns])
                writer.writerows(["" if v is None else neutralize(v) for v in row] for row in rows)
        else:
            _write_parquet(staged.path, columns, rows)
    except OSError as exc:
        staged.discard()
        raise ExtractWriteError(f"{staged.target}: cannot write: {exc.strerror or exc}") from None


def write_frame(staged: StagedFile, fmt: str, frame: pl.DataFrame) -> None:
    """Write a frame of string columns (missing values as empty CSV cells / Parquet nulls) into the staged file.

    Raises:
        ExtractWriteError: the file system refused (the staged file is removed).
    """
    try:
        if fmt == "csv":
            frame.write_csv(staged.path, null_value="")
        else:
            frame.write_parquet(staged.path, compression="zstd", statistics=False)
    except OSError as exc:
        staged.discard()
        raise ExtractWriteError(f"{staged.target}: cannot write: {exc.strerror or exc}") from None


def _write_parquet(path: Path, columns: Sequence[str], rows: Sequence[Sequence[str | None]]) -> None:
    import pyarrow as pa  # heavy import: only when Parquet is asked for
    import pyarrow.parquet as pq

    data = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    schema = pa.schema([pa.field(name, pa.string()) for name in columns])
    table = pa.Table.from_pydict(data, schema=schema)
    pq.write_table(table, str(path), compression="zstd")


def write_json(staged: StagedFile, doc: dict[str, Any]) -> None:
    """Write a JSON document (the manifest) into the staged file."""
    try:
        staged.path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        staged.discard()
        raise ExtractWriteError(f"{staged.target}: cannot write: {exc.strerror or exc}") from None
