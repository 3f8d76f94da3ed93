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
import gc
import multiprocessing
import os
import pickle
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vault.audit.entry import AuditEvent, Outcome
from vault.audit.subjects import SubjectList
from vault.customers.cohorts import SqlCohortMembers
from vault.customers.import_rows import (
    CONSENT_COLUMNS,
    CONSENT_PROOF_COLUMNS,
    CUSTOMER_COLUMNS,
    DEFAULT_ENCODING,
    HEADER,
    WARNING_REASONS,
    ImportReport,
    ImportRow,
    RowError,
    RowWarning,
    _lines,
    check_header,
    describe_discovery,
    discover_columns,
    parse_row,
    shown_columns,
    unknown_columns,
    write_report,
)
from vault.customers.repository import insert_new_customers
from vault.customers.sealing import SealedChunk, Sealer, init_worker, seal_in_worker
from vault.errors import InvalidInputError
from vault.lib.clock import utcnow
from vault.policy.statutes import Cohort

#: The importer's own names, and the CSV-reading names re-exported from vault.customers.import_rows.
__all__ = [
    "CONSENT_COLUMNS", "CONSENT_PROOF_COLUMNS", "CUSTOMER_COLUMNS", "DEFAULT_ENCODING", "HEADER",
    "WARNING_REASONS", "CreatedHook", "CustomerImporter", "ImportReport", "ImportRow", "PurposeRule", "RowError",
    "RowWarning", "SealedChunk", "check_header", "describe_discovery", "discover_columns", "parse_row",
    "shown_columns", "unknown_columns", "write_report",
]

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.audit.entry import Actor
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.db.engine import Database
    from vault.lib.pii import PiiPort
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.collection import CohortMembers, CollectionPolicy, Coverage
    from vault.policy.purposes import Purpose

PARALLEL_MIN_ROWS = 20_000  # below this, worker start-up costs more than it saves
SQLITE_CACHE_KIB = 65_536  # the page cache of the import's connection (SQLite's default: 2 MiB)

#: Called inside each batch's transaction with the new customers' (id, consent flags, consent proof).
CreatedHook = Callable[["AsyncSession", Sequence[tuple[uuid.UUID, dict[str, bool], dict[str, str]]], "Actor"],
                       Awaitable[None]]


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
    #: The verdict per set of filled fields: a file has few distinct sets, so each is judged once.
    _verdicts: dict[tuple[str, ...], tuple[str, str] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def row_error(self, line: int, fields: tuple[str, ...]) -> RowError | None:
        """Why a row with values in ``fields`` (sorted) is rejected, or None."""
        try:
            verdict = self._verdicts[fields]
        except KeyError:
            verdict = self._verdicts[fields] = self._judge(fields)
        return None if verdict is None else RowError(line, *verdict)

    def _judge(self, fields: tuple[str, ...]) -> tuple[str, str] | None:
        for name in fields:
            bad = self.collection.refusal(self.purpose, name)
            if bad is not None:
                return name, (f"{bad.reason} for purpose {self.purpose.id!r} (import under a purpose that uses it, "
                              "or leave the cell empty)")
        coverage = self._coverage(fields)
        if coverage is not None and self.reference is None:
            return coverage.field, (
                f"purpose {self.purpose.id!r} collects it under statute {coverage.statute.id!r}, which covers only "
                f"{coverage.cohort.value}; the import does not state that its customers are "
                "(import their list with a covered-by reference)")
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
                                       initializer=init_worker, initargs=(provider, index, self._catalogue))
        local = Sealer(provider, index, self._catalogue)
        # Cyclic garbage collection off for the run: the batches allocate millions of short-lived tuples, and
        # each generation-2 pass walks every live object (8% of the main process's CPU in a profile).
        collecting = gc.isenabled()
        gc.disable()
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
            if collecting:
                gc.enable()
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        return report

    async def _pipeline(
        self, path: Path, caller: Caller, report: ImportReport, batch_size: int, pool: Executor | None,
        local: Sealer, progress: Callable[[int], None] | None, keep_ids: bool, session: AsyncSession | None,
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
                pending.append(pool.submit(seal_in_worker, header, chunk))
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
        conn = await session.connection()
        if conn.dialect.name == "sqlite":
            # The batches' random-keyed index pages (blind-index digests) stay cached between batches: a batch
            # dirties most leaf pages of those indexes, which the 2 MiB default cache read back every batch.
            # (WAL checkpoints run on vault.db.wal's thread, never inside the batch's commit.)
            await conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
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
        subjects = SubjectList()
        subjects.extend_packed(bytes.fromhex("".join(sorted(batch.hex_ids[p] for p in fresh))))
        await self._audit.record_bulk(session, AuditEvent(
            "customer.import", Outcome.ALLOWED, caller.actor, purpose=caller.purpose,
            fields=tuple(sorted({f for p in fresh for f in sealed.fields[p]})), request_id=caller.request_id,
            detail=f"import batch of {len(ids)} new customers"), subjects)
        report.created += len(fresh)
        if keep_ids:
            report.created_ids.extend(ids)
