"""The append-only, hash-chained audit log.

Appends are serialized so the chain stays linear across processes: on
PostgreSQL with a transaction-scoped advisory lock, on SQLite by the write
lock ``BEGIN IMMEDIATE`` takes. The chain head is read inside that transaction,
never from process memory. Reads are made durable through group commit: many
concurrent requests hand entries to one flush that chains and commits them in
one transaction, and each request waits for its batch.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.engine import make_url

from vault.audit.chain import AUDIT_LOCK_KEY, chain_rows, entry_row
from vault.audit.entry import GENESIS, AuditEvent
from vault.audit.errors import AuditWriteError
from vault.audit.loop_writer import LoopAuditWriter, append_sqlite
from vault.audit.models import AuditEntryRow, AuditSubjectRow
from vault.audit.subjects import SubjectList
from vault.audit.writer import AuditWriter
from vault.db.engine import sync_url
from vault.db.inline_sqlite import sqlite3_of
from vault.lib.clock import utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.db.engine import Database

# Bulk entries up to this many subjects ride along in group commit; larger ones commit on their own.
GROUP_SUBJECTS_MAX = 2000
_BULK_SUBJECT_CHUNK = 100_000
_SUBJECTS_TABLE = cast(Table, AuditSubjectRow.__table__)  # Core executemany, not the ORM bulk path
_ENTRIES_TABLE = cast(Table, AuditEntryRow.__table__)
# Built once: every audited write reuses these statements and their compiled forms.
_INSERT_ENTRIES = insert(_ENTRIES_TABLE)
_INSERT_SUBJECTS = insert(_SUBJECTS_TABLE)
_SQLITE_SUBJECTS = "INSERT INTO audit_subjects (seq, customer_id) SELECT ?, value FROM json_each(?)"
_PG_SUBJECTS = text("INSERT INTO audit_subjects (seq, customer_id) "
                    "SELECT :seq, CAST(unnest(string_to_array(:ids, ',')) AS uuid)")
_CHAIN_HEAD = select(_ENTRIES_TABLE.c.seq, _ENTRIES_TABLE.c.hash).order_by(_ENTRIES_TABLE.c.seq.desc()).limit(1)


async def append(session: AsyncSession, events: Sequence[AuditEvent]) -> list[int]:
    """Chain and insert ``events`` inside the caller's write transaction; returns their seqs."""
    if not events:
        return []
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
    else:
        dbapi = await sqlite3_of(await session.connection())
        if dbapi is not None:  # straight through sqlite3, in the same transaction
            return append_sqlite(dbapi, events)
    head = (await session.execute(_CHAIN_HEAD)).first()
    rows, subject_rows = chain_rows(events, head[0] if head else 0, head[1] if head else None, utcnow())
    await session.execute(_INSERT_ENTRIES, rows)
    if subject_rows:
        await session.execute(_INSERT_SUBJECTS, subject_rows)
    return [r["seq"] for r in rows]


async def append_bulk(session: AsyncSession, event: AuditEvent, subjects: SubjectList) -> int:
    """Chain one bulk entry whose subjects are a packed :class:`SubjectList` (any size); returns its seq.

    The subject rows are inserted in chunks, so memory stays at 16 bytes per id.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
    head = (await session.execute(_CHAIN_HEAD)).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    row = entry_row(event, seq, utcnow(), len(subjects), subjects.digest() if len(subjects) else None, prev)
    await session.execute(_INSERT_ENTRIES, [row])
    await _insert_subjects(session, seq, subjects)
    return seq


async def _insert_subjects(session: AsyncSession, seq: int, subjects: SubjectList) -> None:
    """Insert the subject rows without per-row statement work (an extract may cover a million customers).

    SQLite: one ``INSERT ... SELECT FROM json_each(?)`` per chunk of hex ids. An executemany runs the statement
    once per row, and each run pays for the append-only BEFORE INSERT trigger's program (migration 0006): 4x
    slower than one statement over the whole chunk, where the trigger still checks every row.
    PostgreSQL: INSERT ... SELECT from one comma-separated text of the ids (no Python UUID per id); the rows
    are checked against audit_log once per statement (migration 0010subjects), not by a per-row foreign key.
    """
    conn = await session.connection()
    packed = subjects.packed()
    step = _BULK_SUBJECT_CHUNK * 16
    for start in range(0, len(packed), step):
        text_ids = packed[start:start + step].hex()
        hex_ids = [text_ids[i:i + 32] for i in range(0, len(text_ids), 32)]
        if conn.dialect.name == "sqlite":  # ids are stored as 32 hex digits
            await conn.exec_driver_sql(_SQLITE_SUBJECTS, (seq, json.dumps(hex_ids)))
        elif conn.dialect.name == "postgresql":  # one text parameter, split and cast by the server
            await conn.execute(_PG_SUBJECTS, {"seq": seq, "ids": ",".join(hex_ids)})
        else:
            await session.execute(insert(_SUBJECTS_TABLE), [{"seq": seq, "customer_id": uuid.UUID(h)}
                                                            for h in hex_ids])


class AuditLog:
    """Records audit events; the one way any package writes to the log."""

    def __init__(self, db: Database, *, max_batch: int = 512) -> None:
        self._db = db
        self._writer: AuditWriter | LoopAuditWriter
        if db.is_postgres:
            self._writer = AuditWriter(sync_url(db.url), max_batch=max_batch)
        else:  # group commit on each event loop's own thread (see vault.audit.loop_writer)
            database = make_url(db.url).database or ":memory:"
            self._writer = LoopAuditWriter(database, uri=database.startswith("file:"), max_batch=max_batch,
                                           autocheckpoint=not db.checkpoints_in_background)
        self._waiting: set[asyncio.Future[int]] = set()

    async def record(self, session: AsyncSession, event: AuditEvent) -> int:
        """Append ``event`` in the caller's write transaction (commits with the change)."""
        return (await append(session, [event]))[0]

    async def record_bulk(self, session: AsyncSession, event: AuditEvent, subjects: SubjectList) -> int:
        """Append one bulk entry covering ``subjects`` in the caller's write transaction (the same entry as
        :meth:`record` with ``event.subjects``, its subject rows written at the driver level)."""
        return await append_bulk(session, event, subjects)

    async def record_durable(self, event: AuditEvent) -> int:
        """Append ``event`` in its own committed transaction via group commit; returns its seq.

        Returns only once the entry is committed, so the caller may then release data. The
        batch is written on the event loop's thread (:mod:`vault.audit.loop_writer`, SQLite) or by
        :class:`~vault.audit.writer.AuditWriter` on its own thread (PostgreSQL).

        Raises:
            AuditWriteError: if the entry could not be committed.
        """
        future = self._writer.submit(event)
        self._waiting.add(future)
        future.add_done_callback(self._waiting.discard)
        if self._db.holds_write_lock():
            # This task holds the process's SQLite write lock (a denial inside a write request): the writer
            # needs SQLite's lock, so waiting here would deadlock. The entry commits as soon as the request's
            # transaction ends; no data leaves with a denial.
            return -1
        return await future

    async def record_bulk_durable(self, event: AuditEvent, subjects: SubjectList) -> int:
        """Durably append one bulk entry covering ``subjects`` (any number) before data leaves; returns its seq.

        Small lists go through group commit; large ones commit in their own write transaction
        (chained under the same lock), so a million subjects never delay other requests' entries
        nor sit in memory as objects.

        Raises:
            AuditWriteError: if the entry could not be committed.
        """
        if len(subjects) <= GROUP_SUBJECTS_MAX:
            return await self.record_durable(replace(event, subjects=tuple(subjects), subject_count=len(subjects)))
        try:
            async with self._db.audit_write() as session:
                return await append_bulk(session, event, subjects)
        except Exception as exc:
            raise AuditWriteError("audit entry could not be committed") from exc

    async def drain(self) -> None:
        """Wait until every entry submitted from this event loop is committed (or failed)."""
        loop = asyncio.get_running_loop()
        pending = [f for f in self._waiting if f.get_loop() is loop]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        """Drain, then stop the writer thread and close its connection."""
        await self.drain()
        if isinstance(self._writer, LoopAuditWriter):
            self._writer.close()  # on this loop's thread, where its connection is used
        else:
            await asyncio.to_thread(self._writer.close)
