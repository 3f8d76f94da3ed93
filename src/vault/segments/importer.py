"""The behaviour import job (``vault transactions import``, ``vault interactions import``, the demo): a bulk job
whose batches are its transactions, the one place the import opens them.

Each batch of valid rows is inserted in its own write transaction with its audit entry, while the next batch is
parsed (its customer_refs looked up in a short read transaction). With ``all_or_nothing`` the whole file is one
write transaction, rolled back when any row is bad. Parsing, lookups and writes are
:mod:`vault.segments.behaviour`'s; the SQL is :mod:`vault.segments.repository`'s.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from vault.segments.behaviour import (
    DEFAULT_ENCODING,
    INTERACTIONS,
    TRANSACTIONS,
    BehaviourBatches,
    BehaviourKind,
    BehaviourReport,
    CustomerRefs,
    Parser,
    RowError,
    chunks,
    convert,
    interaction_parser,
    lines,
    parse_transaction,
    split,
)
from vault.segments.repository import BehaviourRepository, BulkDriver

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.audit.log import AuditLog
    from vault.crypto.blind_index import BlindIndexer
    from vault.db.engine import Database


class BehaviourImporter:
    """Imports transaction or interaction CSV files (see :mod:`vault.segments.behaviour` for the rules)."""

    def __init__(self, db: Database, index: BlindIndexer, audit: AuditLog, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._index = index
        self._audit = audit
        self._clock = clock or (lambda: datetime.now(UTC))

    async def transactions(self, path: Path, caller: Caller, **kw: Any) -> BehaviourReport:
        """Import ``customer_ref,occurred_at,amount_krw,channel,category,returned`` rows."""
        return await self._run(path, caller, TRANSACTIONS, parse_transaction, **kw)

    async def interactions(self, path: Path, caller: Caller, **kw: Any) -> BehaviourReport:
        """Import ``customer_ref,occurred_at,department,kind,satisfaction`` rows."""
        parser = interaction_parser(caller.actor.name[:100], self._clock())
        return await self._run(path, caller, INTERACTIONS, parser, **kw)

    def _batches(self, session: AsyncSession, driver: BulkDriver) -> BehaviourBatches:
        return BehaviourBatches(session, self._audit, BehaviourRepository(session, driver))

    async def _run(self, path: Path, caller: Caller, kind: BehaviourKind, parse: Parser, *, batch_size: int = 50_000,
                   all_or_nothing: bool = False, progress: Callable[[int], None] | None = None,
                   encoding: str = DEFAULT_ENCODING) -> BehaviourReport:
        report = BehaviourReport()
        try:
            codecs.lookup(encoding)
        except LookupError:
            report.errors.append(RowError(1, "(file)", f"unknown encoding {encoding!r}"))
            report.refused = True
            return report
        customers = CustomerRefs(self._index)
        rows_of = lines(path, kind, encoding)
        first = next(rows_of)
        if isinstance(first, RowError):
            report.errors.append(first)
            report.refused = True
            return report
        driver = BulkDriver(self._db.engine.dialect)
        if all_or_nothing:
            async with self._db.write() as session:
                batches = self._batches(session, driver)
                for chunk in chunks(rows_of, batch_size):
                    batch = split(chunk, report)
                    await batches.resolve(customers, batch)
                    rows = convert(batch, parse, customers, report, driver)
                    if rows and not report.errors:
                        await batches.write(kind, rows, report, caller)
                    if progress:
                        progress(len(chunk))
                if report.errors:
                    report.refused = True
                    report.created = 0
                    report.unchanged = 0
                    await session.rollback()
            report.errors.sort(key=lambda e: e.line)
            return report
        # Pipeline: batch k is inserted (in the driver's thread, one transaction) while this thread parses k+1.
        pending: asyncio.Task[None] | None = None

        async def write(rows: list[tuple[Any, ...]]) -> None:
            async with self._db.write() as session:
                await self._batches(session, driver).write(kind, rows, report, caller)

        try:
            for chunk in chunks(rows_of, batch_size):
                batch = split(chunk, report)
                async with self._db.read() as reader:
                    await self._batches(reader, driver).resolve(customers, batch)
                rows = convert(batch, parse, customers, report, driver)
                if pending is not None:
                    await pending
                    pending = None
                if rows:
                    pending = asyncio.create_task(write(rows))
                    await asyncio.sleep(0)  # let the insert start before parsing the next batch
                if progress:
                    progress(len(chunk))
            if pending is not None:
                await pending
                pending = None
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
        report.errors.sort(key=lambda e: e.line)
        return report
