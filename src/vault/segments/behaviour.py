"""Bulk import of behaviour data: transactions and interactions (no PII, only customer ids).

Like ``vault customers import``: bad rows are reported by line number and field, never by value;
valid rows are kept (or, with ``all_or_nothing``, the whole file is one transaction that is rolled
back when any row is bad); re-running a file adds nothing, because every row carries a digest of
its normalized content (BLAKE2b-128, not a secret: these rows hold no PII) under a unique
constraint, inserted with ``ON CONFLICT DO NOTHING``.

The hot loop avoids the ORM and SQLAlchemy's per-row bind processing: rows are converted once to
the driver's own types (SQLite: text timestamps and hex ids as SQLAlchemy stores them; PostgreSQL:
``datetime`` and ``UUID``) and handed to the driver's ``executemany`` in large batches. The only
keyed hash is one blind-index HMAC per distinct ``customer_ref`` (to find the customer).

This module parses and converts rows; :class:`BehaviourBatches` resolves customers and writes a batch on the
session it is given (SQL in :mod:`vault.segments.repository`); :class:`vault.segments.importer.BehaviourImporter`
is the job that owns the transactions.
"""

from __future__ import annotations

import csv
import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from vault.audit.entry import AuditEvent, Outcome

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.audit.log import AuditLog
    from vault.crypto.blind_index import BlindIndexer
    from vault.segments.repository import BehaviourStore, BulkDriver

KST = timezone(timedelta(hours=9), "KST")
KST_OFFSET_S = 9 * 3600
TRANSACTION_HEADER = ("customer_ref", "occurred_at", "amount_krw", "channel", "category", "returned")
INTERACTION_HEADER = ("customer_ref", "occurred_at", "department", "kind", "satisfaction")
DEPARTMENTS = ("marketing", "sales", "crm", "after_sales", "service", "compliance")
INTERACTION_KINDS = ("ticket", "complaint", "return", "inquiry", "survey")
FLAGS = {"y": True, "n": False}
DEFAULT_ENCODING = "utf-8-sig"
MAX_AMOUNT = 10**12  # 1 trillion KRW: anything above is a unit or parsing mistake


def kst_day(at: datetime) -> int:
    """The Asia/Seoul calendar day of an aware ``at``, as days since 1970-01-01."""
    return int((at.timestamp() + KST_OFFSET_S) // 86400)


def parse_instant(raw: str) -> datetime:
    """ISO-8601 with a UTC offset (``2026-03-01T10:00:00+09:00`` or ``...Z``) -> aware UTC datetime.

    Raises:
        ValueError: not ISO-8601, or no offset (a local time is ambiguous).
    """
    at = datetime.fromisoformat(raw)
    if at.tzinfo is None:
        raise ValueError("must carry a UTC offset (e.g. +09:00 or Z)")
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected row: line number, the field at fault, why (never the value)."""

    line: int
    field: str
    reason: str


@dataclass(slots=True)
class BehaviourReport:
    """What an import did (``unchanged``: rows already stored, by digest)."""

    rows: int = 0
    created: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    refused: bool = False

    @property
    def rejected(self) -> int:
        """Number of rows rejected."""
        return len({e.line for e in self.errors})


class CustomerRefs:
    """customer_ref -> stored customer id (driver form, plus the canonical hex), looked up in batches and kept
    for the whole file."""

    def __init__(self, index: BlindIndexer) -> None:
        self._index = index
        self._known: dict[str, tuple[Any, str] | None] = {}

    async def resolve(self, store: BehaviourStore, refs: set[str]) -> None:
        """Look up the refs not seen yet (unknown and erased customers are remembered as None)."""
        missing = [r for r in refs if r not in self._known]
        digests = {self._index.digest("customer_ref", r): r for r in missing}
        for r in missing:
            self._known[r] = None
        for digest, cid in await store.customer_ids(list(digests)):
            self._known[digests[digest]] = (cid, uuid.UUID(str(cid)).hex)

    def get(self, ref: str) -> tuple[Any, str] | None:
        return self._known.get(ref)


Parser = Callable[[int, list[str], tuple[Any, str], "BulkDriver"], "tuple[Any, ...] | RowError"]


def parse_transaction(line: int, cells: list[str], customer: tuple[Any, str],
                      d: BulkDriver) -> tuple[Any, ...] | RowError:
    # The hot loop: no astimezone/isoformat per row (they cost more than the insert); SQLite formats the
    # stored timestamp itself from epoch seconds + microseconds (see vault.segments.repository.insert_sql).
    _, raw_at, raw_amount, channel, category, raw_returned = cells
    try:
        at = datetime.fromisoformat(raw_at.strip())
    except ValueError:
        return RowError(line, "occurred_at", "must be ISO-8601 with a UTC offset, e.g. 2026-03-01T10:00:00+09:00")
    if at.tzinfo is None:
        return RowError(line, "occurred_at", "must carry a UTC offset (e.g. +09:00 or Z)")
    try:
        amount = int(raw_amount)
    except ValueError:
        return RowError(line, "amount_krw", "must be a whole number of won")
    if amount < 0:
        return RowError(line, "amount_krw", "must not be negative (record a return with returned=y)")
    if amount > MAX_AMOUNT:
        return RowError(line, "amount_krw", f"is larger than {MAX_AMOUNT}")
    returned = FLAGS.get(raw_returned.strip().lower())
    if returned is None:
        return RowError(line, "returned", "must be y or n")
    channel = channel.strip()
    category = category.strip()
    if not channel or len(channel) > 32:
        return RowError(line, "channel", "is required (at most 32 characters)")
    if not category or len(category) > 64:
        return RowError(line, "category", "is required (at most 64 characters)")
    secs = int(at.timestamp() // 1)
    micro = at.microsecond
    digest = hashlib.blake2b(
        f"{customer[1]}|{secs}|{micro}|{amount}|{channel}|{category}|{returned:d}".encode(), digest_size=16).digest()
    day = (secs + KST_OFFSET_S) // 86400
    if d.sqlite:
        return (customer[0], secs, micro, day, amount, channel, category, int(returned), digest)
    return (customer[0], at, day, amount, channel, category, returned, digest)


def interaction_parser(recorded_by: str, now: datetime) -> Parser:
    def parse(line: int, cells: list[str], customer: tuple[Any, str], d: BulkDriver) -> tuple[Any, ...] | RowError:
        _, raw_at, department, kind, raw_sat = cells
        try:
            at = parse_instant(raw_at.strip())
        except ValueError:
            return RowError(line, "occurred_at", "must be ISO-8601 with a UTC offset, e.g. 2026-03-01T10:00:00+09:00")
        department = department.strip().lower()
        if department not in DEPARTMENTS:
            return RowError(line, "department", f"must be one of {', '.join(DEPARTMENTS)}")
        kind = kind.strip().lower()
        if kind not in INTERACTION_KINDS:
            return RowError(line, "kind", f"must be one of {', '.join(INTERACTION_KINDS)}")
        sat: int | None = None
        if raw_sat.strip():
            try:
                sat = int(raw_sat.strip())
            except ValueError:
                sat = 0
            if not 1 <= sat <= 5:
                return RowError(line, "satisfaction", "must be a whole number from 1 to 5, or empty")
        digest = interaction_digest(customer[1], at, department, kind, sat)
        row_id: Any = uuid.uuid4()
        return (d.uuid(row_id), customer[0], department, kind, sat, d.when(at), kst_day(at),
                digest, recorded_by, d.when(now))
    return parse


def interaction_digest(customer_hex: str, at: datetime, department: str, kind: str, satisfaction: int | None) -> bytes:
    """Digest identifying an interaction (same customer, instant, department, kind and score = same row)."""
    text = f"{customer_hex}|{at.astimezone(UTC).isoformat()}|{department}|{kind}|{satisfaction or ''}"
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


TRANSACTION_COLUMNS = ("customer_id", "occurred_at", "kst_day", "amount_krw", "channel", "category", "returned",
                       "row_digest")
INTERACTION_COLUMNS = ("id", "customer_id", "department", "kind", "satisfaction", "occurred_at", "kst_day",
                       "row_digest", "recorded_by", "recorded_at")


@dataclass(frozen=True)
class BehaviourKind:
    """What one kind of behaviour file is: its CSV header and the table it fills."""

    name: str
    table: str
    header: tuple[str, ...]
    columns: tuple[str, ...]
    pg_types: tuple[str, ...]  # for PostgreSQL's one-statement INSERT ... SELECT FROM unnest(arrays)


TRANSACTIONS = BehaviourKind("transactions", "transactions", TRANSACTION_HEADER, TRANSACTION_COLUMNS,
                             ("uuid", "timestamptz", "int", "bigint", "text", "text", "bool", "bytea"))
INTERACTIONS = BehaviourKind("interactions", "interactions", INTERACTION_HEADER, INTERACTION_COLUMNS,
                             ("uuid", "uuid", "text", "text", "int", "timestamptz", "int", "bytea", "text",
                              "timestamptz"))


def lines(path: Path, kind: BehaviourKind, encoding: str) -> Iterator[tuple[int, list[str]] | RowError]:
    """Yields the header check's error, or the column order, then (line, cells) of each non-blank row."""
    with path.open(newline="", encoding=encoding) as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            yield RowError(1, "(header)", "file is empty")
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            yield RowError(1, "(header)", f"not a {encoding} CSV file: {type(exc).__name__}")
            return
        if sorted(header) != sorted(kind.header):
            yield RowError(1, "(header)", f"expected header: {','.join(kind.header)}")
            return
        order = [header.index(c) for c in kind.header]
        identity = order == list(range(len(order)))
        width = len(order)
        yield 0, [str(i) for i in order]
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error:
                yield RowError(reader.line_num, "(row)", "malformed CSV")
                continue
            except UnicodeDecodeError:
                yield RowError(reader.line_num + 1, "(file)", f"is not valid {encoding} text at or after this line; "
                                                              "nothing after it was read")
                return
            if len(cells) != width:
                if any(c.strip() for c in cells):
                    yield RowError(reader.line_num, "(row)", f"has {len(cells)} columns, header has {width}")
                continue
            yield reader.line_num, cells if identity else [cells[i] for i in order]


def split(chunk: list[tuple[int, list[str]] | RowError], report: BehaviourReport) -> list[tuple[int, list[str]]]:
    """The chunk's rows; its malformed lines go to ``report``."""
    batch: list[tuple[int, list[str]]] = []
    for item in chunk:
        if isinstance(item, RowError):
            report.errors.append(item)
        else:
            batch.append(item)
    report.rows += len(chunk)
    return batch


def convert(batch: list[tuple[int, list[str]]], parse: Parser, customers: CustomerRefs, report: BehaviourReport,
            driver: BulkDriver) -> list[tuple[Any, ...]]:
    """Validate and convert rows whose customers are resolved; the rejected ones go to ``report``."""
    rows: list[tuple[Any, ...]] = []
    lookup = customers.get
    for line, cells in batch:
        customer = lookup(cells[0].strip())
        if customer is None:
            report.errors.append(RowError(line, "customer_ref",
                                          "is unknown (no such customer, or the customer was erased)"))
            continue
        parsed = parse(line, cells, customer, driver)
        if isinstance(parsed, RowError):
            report.errors.append(parsed)
        else:
            rows.append(parsed)
    return rows


class BehaviourBatches:
    """One import's work on the session it is given (``store`` runs on it): resolve customer_refs, write a batch
    with its audit entry."""

    def __init__(self, session: AsyncSession, audit: AuditLog, store: BehaviourStore) -> None:
        self._session = session
        self._audit = audit
        self._repo = store

    async def resolve(self, customers: CustomerRefs, batch: list[tuple[int, list[str]]]) -> None:
        """Look up the batch's customer_refs not seen yet."""
        await customers.resolve(self._repo, {cells[0].strip() for _, cells in batch})

    async def write(self, kind: BehaviourKind, rows: list[tuple[Any, ...]], report: BehaviourReport,
                    caller: Caller) -> None:
        """Insert converted rows (rows already stored count as unchanged) and audit the batch in its transaction."""
        inserted = await self._repo.insert(kind, rows)
        report.created += inserted
        report.unchanged += len(rows) - inserted
        await self._audit.record(self._session, AuditEvent(
            f"{kind.name}.import", Outcome.ALLOWED, caller.actor, purpose=caller.purpose,
            subject_count=len({r[kind.columns.index("customer_id")] for r in rows}),
            request_id=caller.request_id, detail=f"{kind.name} import batch: {len(rows)} valid rows, {inserted} new"))


def chunks(items: Iterator[tuple[int, list[str]] | RowError],
           size: int) -> Iterator[list[tuple[int, list[str]] | RowError]]:
    """``items`` in lists of ``size``."""
    chunk: list[tuple[int, list[str]] | RowError] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_report(report: BehaviourReport, path: Path) -> None:
    """Write the rejected rows as CSV: line, field, reason (never values)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["line", "field", "reason"])
        for e in report.errors:
            w.writerow([e.line, e.field, e.reason])
