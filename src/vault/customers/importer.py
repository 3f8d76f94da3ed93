"""Bulk import of customers from CSV.

Bad rows are reported by line number (never by value) and every valid row is
kept, unless ``all_or_nothing`` asks to refuse the whole file (then the whole
import is one transaction, rolled back if any row is bad). Rows are written in
batches, each batch one transaction holding its customers, their blind indexes,
their consent events and one bulk audit entry, so a crash leaves no
half-written customer. Re-running a file is idempotent: customer_ref is the key.

Validation and sealing (normalization, one AES-GCM per field, DEK wrap, blind
indexes) run in worker processes for large files while this process inserts
the previous batch, so crypto and index maintenance overlap (docs/design.md, bulk
import). Small files, and key providers that cannot be handed to a local
worker process (an HSM session), are sealed in-process.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import multiprocessing
import os
import pickle
import re
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, BinaryIO

from vault.audit.entry import AuditEvent, Outcome
from vault.crypto.envelope import FieldCipher
from vault.customers import records
from vault.customers.cohorts import SqlCohortMembers
from vault.customers.errors import InvalidFieldError
from vault.customers.repository import insert_new_customers
from vault.errors import InvalidInputError
from vault.lib.clock import utcnow
from vault.policy.normalize import CHECK_DIGIT_UNVERIFIED
from vault.policy.statutes import Cohort

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.audit.entry import Actor
    from vault.audit.log import AuditLog
    from vault.crypto.blind_index import BlindIndexer
    from vault.crypto.keyring import Keyring
    from vault.crypto.keys import KeyProvider
    from vault.db.engine import Database
    from vault.lib.pii import ColumnVerdict, PiiPort
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.collection import CohortMembers, CollectionPolicy, Coverage
    from vault.policy.purposes import Purpose

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
PARALLEL_MIN_ROWS = 20_000  # below this, worker start-up costs more than it saves

#: Called inside each batch's transaction with the new customers' (id, consent flags, consent proof).
CreatedHook = Callable[["AsyncSession", Sequence[tuple[uuid.UUID, dict[str, bool], dict[str, str]]], "Actor"],
                       Awaitable[None]]


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
class SealedChunk:
    """A chunk of rows validated and sealed for insertion (no plaintext), column by column so that it
    crosses from a worker process cheaply. Per-row lists are in ``batch`` order."""

    errors: list[RowError]
    batch: records.SealedBatch | None = None
    lines: list[int] = field(default_factory=list)
    consents: list[dict[str, bool]] = field(default_factory=list)
    proofs: list[dict[str, str]] = field(default_factory=list)
    fields: list[tuple[str, ...]] = field(default_factory=list)


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


class _Sealer:
    """Validates and seals chunks of raw rows; lives in a worker process or in-process."""

    def __init__(self, provider: KeyProvider, index: BlindIndexer, catalogue: FieldCatalogue) -> None:
        self._cipher = FieldCipher(provider)
        self._index = index
        self._catalogue = catalogue

    def seal(self, header: list[str], chunk: list[tuple[int, list[str]]]) -> SealedChunk:
        out = SealedChunk([])
        values: list[dict[str, str]] = []
        for line, cells in chunk:
            parsed = parse_row(line, header, cells, self._catalogue)
            if isinstance(parsed, RowError):
                out.errors.append(parsed)
                continue
            values.append(parsed.values)
            out.lines.append(line)
            out.consents.append(parsed.consents)
            out.proofs.append(parsed.proof)
            out.fields.append(tuple(sorted(parsed.values)))
        if values:
            out.batch = records.seal_batch(self._cipher, self._index, self._catalogue, values)
        return out


_WORKER: _Sealer | None = None


def _init_worker(provider: KeyProvider, index: BlindIndexer, catalogue: FieldCatalogue) -> None:
    global _WORKER
    _WORKER = _Sealer(provider, index, catalogue)


def _seal_in_worker(header: list[str], chunk: list[tuple[int, list[str]]]) -> SealedChunk:
    assert _WORKER is not None
    return _WORKER.seal(header, chunk)


def _picklable(*objs: object) -> bool:
    try:
        pickle.dumps(objs)
    except (TypeError, AttributeError, pickle.PicklingError):
        return False
    return True


@dataclass(frozen=True)
class PurposeRule:
    """Purpose-bound collection for one import (:mod:`vault.policy.collection`).

    A row carrying a value the purpose does not collect is rejected (line, field, why); an empty cell
    is no value, so the documented header (with its ``rrn`` column) imports under any purpose. A
    statute-only value (an RRN) is kept only when the import states, with a ``reference``, that every
    customer in the file is one the statute covers (e.g. the winners of one draw); they are then
    recorded in that cohort with the customer, in the same transaction.
    """

    purpose: Purpose
    collection: CollectionPolicy
    cohorts: CohortMembers
    reference: str | None = None

    def row_error(self, line: int, fields: Sequence[str]) -> RowError | None:
        """Why a row with values in ``fields`` is rejected, or None."""
        for name in fields:
            bad = self.collection.refusal(self.purpose, name)
            if bad is not None:
                return RowError(line, name, f"{bad.reason} for purpose {self.purpose.id!r} (import under a purpose "
                                            "that uses it, or leave the cell empty)")
        coverage = self._coverage(fields)
        if coverage is not None and self.reference is None:
            return RowError(line, coverage.field, (
                f"purpose {self.purpose.id!r} collects it under statute {coverage.statute.id!r}, which covers only "
                f"{coverage.cohort.value}; the import does not state that its customers are "
                "(import their list with a covered-by reference)"))
        return None

    def _coverage(self, fields: Sequence[str]) -> Coverage | None:
        try:
            return self.collection.check(self.purpose, fields)
        except InvalidInputError:
            return None

    async def record(self, session: AsyncSession, ids: Sequence[uuid.UUID], actor: Actor) -> None:
        """Record the new customers in the cohort the import stated they belong to."""
        statute = self.collection.statute(self.purpose)
        if self.reference is not None and statute is not None:
            await self.cohorts.record(session, ids, statute.covers, self.reference, actor.name, utcnow())


class CustomerImporter:
    """Writes validated rows in batches, skipping customer_refs already stored."""

    def __init__(self, db: Database, keyring: Keyring, catalogue: FieldCatalogue, audit: AuditLog, *,
                 collection: CollectionPolicy, on_created: CreatedHook | None = None,
                 cohorts: CohortMembers | None = None) -> None:
        self._db = db
        self._keyring = keyring
        self._catalogue = catalogue
        self._audit = audit
        self._on_created = on_created
        self._collection = collection
        self._cohorts: CohortMembers = cohorts or SqlCohortMembers()

    def purpose_rule(self, purpose_id: str | None, covered_by: str | None = None) -> PurposeRule:
        """The collection rule of an import under ``purpose_id`` (``covered_by``: see :class:`PurposeRule`).

        Raises:
            InvalidInputError: no or an unknown purpose; ``covered_by`` under a purpose whose statute covers
                no particular cohort, or a bad reference.
        """
        purpose = self._collection.purposes.get(purpose_id or "")
        if purpose is None:
            raise InvalidInputError(f"an import names the purpose of collection; known purposes: "
                                    f"{', '.join(self._collection.purposes.ids)}", field="purpose")
        if covered_by is not None:
            statute = self._collection.statute(purpose)
            if statute is None or statute.covers is Cohort.ALL_CUSTOMERS:
                raise InvalidInputError(f"purpose {purpose.id!r} rests on no statute covering a particular cohort; "
                                        "a covered-by reference applies only to such a purpose", field="covered_by")
            covered_by = covered_by.strip()
            if not 1 <= len(covered_by) <= 100:
                raise InvalidInputError("the covered-by reference must be 1-100 characters (a draw or case number, "
                                        "no personal data)", field="covered_by")
        return PurposeRule(purpose, self._collection, self._cohorts, covered_by)

    async def run(
        self, path: Path, caller: Caller, *, batch_size: int = 5000, all_or_nothing: bool = False,
        progress: Callable[[int], None] | None = None, keep_ids: bool = False, workers: int | None = None,
        ignore_unknown_columns: bool = False, detector: Callable[[], PiiPort] | None = None,
        encoding: str = DEFAULT_ENCODING, covered_by: str | None = None,
    ) -> ImportReport:
        """Import ``path``; see the module docstring for the guarantees.

        Args:
            workers: sealing processes; None picks one per core for files over
                PARALLEL_MIN_ROWS rows, 0 seals in-process.
            ignore_unknown_columns: import without the columns the catalogue does not
                declare (they are never stored); otherwise such a file is refused.
            detector: builds the PII detector used to sample undeclared columns and
                report which look like personal data.
            encoding: the file's text encoding (UTF-8 with or without BOM by default;
                Korean spreadsheets are often cp949).
            covered_by: the file lists customers the statute of ``caller.purpose`` covers
                (e.g. one draw's prize winners), citing this reference; only then are
                statute-only values (RRNs) kept. Rows with a value the purpose does not collect
                are rejected (see :class:`PurposeRule`).

        Raises:
            InvalidInputError: unknown encoding, no or unknown purpose, bad ``covered_by``.
        """
        rule = self.purpose_rule(caller.purpose, covered_by)
        report = ImportReport()
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InvalidInputError(f"unknown encoding {encoding!r}") from None
        with path.open(newline="", encoding=encoding, errors="replace") as fh:
            first = next(csv.reader(fh), [])
        extra = unknown_columns([h.strip() for h in first])
        if extra:
            if detector is not None:
                report.discovery = discover_columns(path, extra, detector(), encoding=encoding)
            if not ignore_unknown_columns:
                found = describe_discovery(report.discovery) if report.discovery else ""
                report.errors.append(RowError(1, "(header)", (
                    f"undeclared columns {shown_columns(extra)} are not in the field catalogue and are never stored"
                    + (f" ({found})" if found else "")
                    + "; remove them, declare them in policies/pii.yaml, or import without them "
                    "(--ignore-unknown-columns)")))
                report.refused = all_or_nothing
                return report
            report.dropped_columns = extra
        if workers is None:
            workers = (os.cpu_count() or 1) if path.stat().st_size > PARALLEL_MIN_ROWS * 150 else 0
        provider, index = self._keyring.provider, self._keyring.index
        if workers and not _picklable(provider, index, self._catalogue):
            workers = 0
        pool: Executor | None = None
        if workers:
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init_worker, initargs=(provider, index, self._catalogue))
        local = _Sealer(provider, index, self._catalogue)
        try:
            if all_or_nothing:
                async with self._db.write() as session:
                    await self._pipeline(path, caller, report, batch_size, pool, local, progress, keep_ids, session,
                                         ignore_unknown_columns, encoding, rule)
                    if report.errors:
                        report.refused = True
                        report.created = 0
                        report.created_ids.clear()
                        await session.rollback()
            else:
                await self._pipeline(path, caller, report, batch_size, pool, local, progress, keep_ids, None,
                                     ignore_unknown_columns, encoding, rule)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        return report

    async def _pipeline(
        self, path: Path, caller: Caller, report: ImportReport, batch_size: int, pool: Executor | None,
        local: _Sealer, progress: Callable[[int], None] | None, keep_ids: bool, session: AsyncSession | None,
        ignore_unknown: bool = False, encoding: str = DEFAULT_ENCODING, rule: PurposeRule | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        header: list[str] = []
        pending: deque[Future[SealedChunk] | SealedChunk] = deque()
        seen: set[bytes] = set()
        max_in_flight = 1 + (getattr(pool, "_max_workers", 0) or 0)

        async def drain_one() -> None:
            item = pending.popleft()
            sealed = await asyncio.wrap_future(item) if isinstance(item, Future) else item
            report.rows += len(sealed.errors) + len(sealed.lines)
            report.errors.extend(sealed.errors)
            keep: list[int] = []
            if sealed.batch is not None:
                digests = sealed.batch.ref_digests
                for pos, line in enumerate(sealed.lines):
                    refused = rule.row_error(line, sealed.fields[pos]) if rule is not None else None
                    if refused is not None:
                        report.errors.append(refused)
                    elif digests[pos] in seen:
                        report.errors.append(RowError(line, "customer_ref", "appears more than once in this file"))
                    else:
                        seen.add(digests[pos])
                        keep.append(pos)
                kept = set(keep)
                report.warnings.extend(
                    RowWarning(sealed.lines[pos], name, code, WARNING_REASONS.get(code, code))
                    for pos, name, code in sealed.batch.flag_rows if pos in kept)
            if keep and not (session is not None and report.errors):
                await self._write(sealed, keep, caller, report, keep_ids, session, rule)
            if progress:
                progress(len(sealed.errors) + len(sealed.lines))

        chunk: list[tuple[int, list[str]]] = []

        async def submit() -> None:
            nonlocal chunk
            if pool is not None:
                pending.append(pool.submit(_seal_in_worker, header, chunk))
            else:
                pending.append(await loop.run_in_executor(None, local.seal, header, chunk)
                               if len(chunk) > 1000 else local.seal(header, chunk))
            chunk = []
            while len(pending) >= max_in_flight:
                await drain_one()

        for item in _lines(path, ignore_unknown=ignore_unknown, encoding=encoding):
            if isinstance(item, RowError):
                report.errors.append(item)
                continue
            if not header:
                header = item[1]
                continue
            chunk.append(item)
            if len(chunk) >= batch_size:
                await submit()
        if chunk:
            await submit()
        while pending:
            await drain_one()
        report.errors.sort(key=lambda e: e.line)
        report.warnings.sort(key=lambda w: w.line)

    async def _write(self, sealed: SealedChunk, keep: list[int], caller: Caller, report: ImportReport,
                     keep_ids: bool, session: AsyncSession | None, rule: PurposeRule | None = None) -> None:
        if session is None:
            async with self._db.write() as own:
                await self._insert(own, sealed, keep, caller, report, keep_ids, rule)
        else:
            await self._insert(session, sealed, keep, caller, report, keep_ids, rule)

    async def _insert(self, session: AsyncSession, sealed: SealedChunk, keep: list[int], caller: Caller,
                      report: ImportReport, keep_ids: bool, rule: PurposeRule | None = None) -> None:
        batch = sealed.batch
        assert batch is not None
        fresh = await insert_new_customers(session, batch, keep, utcnow())
        report.unchanged += len(keep) - len(fresh)
        if not fresh:
            return
        ids = tuple(uuid.UUID(hex=batch.hex_ids[p]) for p in fresh)
        if self._on_created is not None:
            await self._on_created(session, [(cid, sealed.consents[p], sealed.proofs[p])
                                             for cid, p in zip(ids, fresh, strict=True)], caller.actor)
        if rule is not None:
            await rule.record(session, ids, caller.actor)
        await self._audit.record(session, AuditEvent(
            "customer.import", Outcome.ALLOWED, caller.actor, purpose=caller.purpose, subjects=ids,
            fields=tuple(sorted({f for p in fresh for f in sealed.fields[p]})), request_id=caller.request_id,
            detail=f"import batch of {len(ids)} new customers"))
        report.created += len(fresh)
        if keep_ids:
            report.created_ids.extend(ids)


def write_report(report: ImportReport, path: Path) -> None:
    """Write rejected rows and kept-with-warning rows as CSV: line, field, reason, severity (never values)."""
    items = sorted([(e.line, e.field, e.reason, "error") for e in report.errors]
                   + [(w.line, w.field, f"{w.reason} [{w.code}]", "warning") for w in report.warnings])
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["line", "field", "reason", "severity"])
        w.writerows(items)
