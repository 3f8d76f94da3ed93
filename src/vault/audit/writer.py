"""The durable audit writer on PostgreSQL: one thread, one synchronous connection, group commit.

Requests hand their entry to :class:`AuditWriter` and wait; the thread takes everything
queued (up to ``max_batch``), reads the chain head inside its own write transaction (under
``pg_advisory_xact_lock``), chains, inserts with one ``executemany`` and commits, then wakes
each waiter on its own event loop. It uses the synchronous driver (psycopg), so a batch costs
no thread hops per statement. SQLite commits durable entries on each event loop's own thread
instead (:mod:`vault.audit.loop_writer`).

A batch that fails is retried entry by entry, so one bad entry fails only its own waiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, create_engine, insert, text

from vault.audit.chain import AUDIT_LOCK_KEY, HEAD_SQL, chain_rows
from vault.audit.models import AuditEntryRow, AuditSubjectRow
from vault.lib.clock import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from vault.audit.entry import AuditEvent

log = logging.getLogger(__name__)

#: How long a batch waits for more entries after its first (group commit: one commit for many).
LINGER_S = 0.0005


class _Item:
    __slots__ = ("event", "future", "loop")

    def __init__(self, event: AuditEvent, loop: asyncio.AbstractEventLoop, future: asyncio.Future[int]) -> None:
        self.event = event
        self.loop = loop
        self.future = future


def _settle(item: _Item, seq: int | None, error: BaseException | None) -> None:
    def done() -> None:
        if item.future.done():
            return
        if error is not None:
            item.future.set_exception(error)
        else:
            assert seq is not None
            item.future.set_result(seq)

    with contextlib.suppress(RuntimeError):  # the waiter's loop is closed: nobody is waiting any more
        item.loop.call_soon_threadsafe(done)


class AuditWriter:
    """Group commit of durable audit entries on a dedicated thread and synchronous connection."""

    def __init__(self, sync_url: str, *, max_batch: int = 512, linger: float = LINGER_S) -> None:
        self._url = sync_url
        self._max_batch = max_batch
        self._linger = linger
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._engine: Engine | None = None
        self._entries = insert(cast(Table, AuditEntryRow.__table__))
        self._subjects = insert(cast(Table, AuditSubjectRow.__table__))

    def submit(self, event: AuditEvent) -> asyncio.Future[int]:
        """Queue ``event``; the future resolves to its seq once its batch is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._ensure_thread()
        self._queue.put(_Item(event, loop, future))
        return future

    def close(self) -> None:
        """Stop the thread after the queued entries are written (blocks until then)."""
        thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join()
        self._thread = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- the thread ---------------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="vault-audit-writer", daemon=True)
                self._thread.start()

    def _connect(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self._url, pool_size=1, max_overflow=0, pool_pre_ping=False)
        return self._engine

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            deadline = time.monotonic() + self._linger
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    wait = deadline - time.monotonic()
                    if wait <= 0:
                        break
                    try:
                        item = self._queue.get(timeout=wait)
                    except queue.Empty:
                        break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[_Item]) -> None:
        try:
            seqs = self._commit([i.event for i in batch])
        except Exception as exc:
            if len(batch) == 1:
                # The driver's message carries the statement's parameters: log the error class only.
                log.error("audit entry %r could not be committed: %s", batch[0].event.action, type(exc).__name__)
                _settle(batch[0], None, _write_error())
                return
            for item in batch:  # one bad entry must not fail the others
                self._write([item])
            return
        for item, seq in zip(batch, seqs, strict=True):
            _settle(item, seq, None)

    def _commit(self, events: list[AuditEvent]) -> list[int]:
        engine = self._connect()
        with engine.connect() as conn:
            _begin(conn)
            try:
                head = conn.exec_driver_sql(HEAD_SQL).first()
                seq, prev = (int(head[0]), str(head[1])) if head else (0, None)
                rows, subjects = chain_rows(events, seq, prev, utcnow())
                conn.execute(self._entries, rows)
                if subjects:
                    conn.execute(self._subjects, subjects)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        return [r["seq"] for r in rows]


def _write_error() -> Exception:
    from vault.audit.errors import AuditWriteError

    return AuditWriteError("audit entry could not be committed")


def _begin(conn: Connection) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
