"""Bulk import of customers from CSV.

Bad rows are reported by line number (never by value) and every valid row is
kept, unless ``all_or_nothing`` asks to refuse the whole file. Rows are written
in batches, each batch one transaction holding its customers, their blind
indexes and one bulk audit entry, so a crash leaves no half-written customer.
Re-running a file is idempotent: customer_ref is the key.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import insert, select

from vault.audit.entry import AuditEvent, Outcome
from vault.customers import records
from vault.customers.errors import InvalidFieldError
from vault.customers.models import CustomerRow, customer_index_table, customers_table

if TYPE_CHECKING:
    from pathlib import Path

    from vault.access.caller import Caller
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.customers.catalogue import FieldCatalogue
    from vault.db.engine import Database

CUSTOMER_COLUMNS = (
    "customer_ref", "name", "email", "phone", "birth_date", "gender", "postal_code", "city", "district",
    "address_line", "rrn",
)
CONSENT_COLUMNS = ("marketing_email", "marketing_sms", "marketing_sms_night", "analytics")
HEADER = CUSTOMER_COLUMNS + CONSENT_COLUMNS
FLAG_VALUES = {"y": True, "n": False, "": None}


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected row: line number in the file, the field at fault, and why (no values)."""

    line: int
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A validated row."""

    line: int
    values: dict[str, str]
    consents: dict[str, bool]


@dataclass(slots=True)
class ImportReport:
    """What an import did."""

    rows: int = 0
    created: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    refused: bool = False
    created_ids: list[object] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Number of rows rejected."""
        return len({e.line for e in self.errors})


def read_rows(path: Path, catalogue: FieldCatalogue) -> Iterator[ImportRow | RowError]:
    """Parse and validate the CSV, yielding valid rows and row errors in file order."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            yield RowError(1, "(header)", "file is empty")
            return
        missing = [c for c in ("customer_ref",) if c not in header]
        unknown = [c for c in header if c not in HEADER]
        if missing or unknown:
            reason = (f"missing columns {missing}; " if missing else "") + (
                f"unknown columns {unknown} (not in the field catalogue; refusing undeclared data)" if unknown else "")
            yield RowError(1, "(header)", reason.strip("; ") + f"; expected header: {','.join(HEADER)}")
            return
        seen: set[str] = set()
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                yield RowError(line, "(row)", f"has {len(cells)} columns, header has {len(header)}")
                continue
            raw = dict(zip(header, cells, strict=True))
            values: dict[str, str] = {}
            consents: dict[str, bool] = {}
            error: RowError | None = None
            for col in header:
                cell = raw[col].strip()
                if col in CONSENT_COLUMNS:
                    if cell.lower() not in FLAG_VALUES:
                        error = RowError(line, col, "consent flag must be y, n or empty")
                        break
                    flag = FLAG_VALUES[cell.lower()]
                    if flag is not None:
                        consents[col] = flag
                    continue
                if not cell:
                    continue
                try:
                    values[col] = catalogue[col].clean(cell)
                except InvalidFieldError as exc:
                    error = RowError(line, exc.field, exc.reason)
                    break
            if error is None and "customer_ref" not in values:
                error = RowError(line, "customer_ref", "is required")
            if error is None and values["customer_ref"] in seen:
                error = RowError(line, "customer_ref", "appears more than once in this file")
            if error is not None:
                yield error
                continue
            seen.add(values["customer_ref"])
            yield ImportRow(line, values, consents)


class CustomerImporter:
    """Writes validated rows in batches, skipping customer_refs already stored."""

    def __init__(self, db: Database, keyring: Keyring, catalogue: FieldCatalogue, audit: AuditLog) -> None:
        self._db = db
        self._keyring = keyring
        self._catalogue = catalogue
        self._audit = audit

    async def run(
        self, path: Path, caller: Caller, *, batch_size: int = 2000, all_or_nothing: bool = False,
        progress: Callable[[int], None] | None = None, keep_ids: bool = False,
    ) -> ImportReport:
        """Import ``path``; see the module docstring for the guarantees."""
        report = ImportReport()
        if all_or_nothing:
            items = list(read_rows(path, self._catalogue))
            report.errors = [i for i in items if isinstance(i, RowError)]
            report.rows = len(items)
            if report.errors:
                report.refused = True
                return report
            await self._write([i for i in items if isinstance(i, ImportRow)], caller, report, keep_ids)
            if progress:
                progress(len(items))
            return report
        batch: list[ImportRow] = []
        for item in read_rows(path, self._catalogue):
            report.rows += 1
            if isinstance(item, RowError):
                report.errors.append(item)
                if progress:
                    progress(1)
                continue
            batch.append(item)
            if len(batch) >= batch_size:
                await self._write(batch, caller, report, keep_ids)
                if progress:
                    progress(len(batch))
                batch = []
        if batch:
            await self._write(batch, caller, report, keep_ids)
            if progress:
                progress(len(batch))
        return report

    async def _write(self, rows: list[ImportRow], caller: Caller, report: ImportReport, keep_ids: bool) -> None:
        if not rows:
            return
        idx = self._keyring.index
        digests = {idx.digest("customer_ref", r.values["customer_ref"]): r for r in rows}
        async with self._db.write() as session:
            existing: set[bytes] = set()
            keys = list(digests)
            for i in range(0, len(keys), 500):
                found = await session.scalars(
                    select(CustomerRow.ref_digest).where(CustomerRow.ref_digest.in_(keys[i:i + 500])))
                existing.update(d for d in found.all() if d is not None)
            fresh = [r for d, r in digests.items() if d not in existing]
            report.unchanged += len(rows) - len(fresh)
            customers, index_rows = [], []
            for r in fresh:
                sealed = records.seal_new(self._keyring, self._catalogue, r.values)
                customers.append(sealed.row)
                index_rows.extend(sealed.index_rows)
            if customers:
                await session.execute(insert(customers_table), customers)
            if index_rows:
                await session.execute(insert(customer_index_table), index_rows)
            ids = tuple(c["id"] for c in customers)
            if ids:
                await self._audit.record(session, AuditEvent(
                    "customer.import", Outcome.ALLOWED, caller.actor, purpose=caller.purpose,
                    subjects=ids, fields=tuple(sorted({f for r in fresh for f in r.values})),
                    request_id=caller.request_id, detail=f"import batch of {len(ids)} new customers"))
        report.created += len(fresh)
        if keep_ids:
            report.created_ids.extend(c["id"] for c in customers)


def write_report(report: ImportReport, path: Path) -> None:
    """Write the rejected rows as CSV: line, field, reason (never values)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["line", "field", "reason"])
        for e in report.errors:
            w.writerow([e.line, e.field, e.reason])
