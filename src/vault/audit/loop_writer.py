"""Group commit of durable audit entries on the event loop's own thread (SQLite).

:class:`vault.audit.writer.AuditWriter` commits on a thread of its own. On SQLite that thread
costs more than the commit: every entry is a queue hand-off, a wake-up of the thread, and a
``call_soon_threadsafe`` back, and both threads fight for the GIL whenever one of them calls
into sqlite3 or ``os.urandom`` (measured: about 0.2 ms of CPU per read request, batches of two).

Here the requests of one event loop hand their entries to a list, and one callback per loop
iteration writes everything queued so far in one transaction on a sqlite3 connection of that
thread (WAL, autocommit, ``BEGIN IMMEDIATE``): all the requests that reached their audit append
in the same iteration share one commit, with no thread and no added latency. SQLite's write
lock is never waited for on the loop: when another connection (another worker process, or a
request's write transaction in this one) holds it, the batch is retried a moment later with
``call_later``, and entries queued meanwhile join it. The chain head is read inside the
transaction, so several processes share one chain (docs/design.md).

A batch that fails is retried entry by entry, so one bad entry fails only its own waiter.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, insert

from vault.audit.chain import HEAD_SQL, chain_rows
from vault.audit.models import AuditEntryRow, AuditSubjectRow
from vault.db.direct_sqlite import execute_on, is_busy
from vault.db.wal import no_autocheckpoint
from vault.lib.clock import utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from vault.audit.entry import AuditEvent

log = logging.getLogger(__name__)

#: First and longest pause between attempts at SQLite's write lock, and how long to keep trying.
_RETRY_FIRST_S = 0.0002
_RETRY_MAX_S = 0.002
_LOCK_WAIT_S = 30.0


class _LoopQueue:
    """The entries of one event loop waiting for their commit, and that loop's connection."""

    __slots__ = ("closed", "conn", "deadline", "delay", "items", "loop", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop, conn: sqlite3.Connection) -> None:
        self.loop = loop
        self.conn = conn
        self.items: list[tuple[AuditEvent, asyncio.Future[int]]] = []
        self.scheduled = False
        self.delay = _RETRY_FIRST_S
        self.deadline = 0.0
        self.closed = False


class LoopAuditWriter:
    """Durable audit entries committed in batches on the submitting loop's thread (SQLite only)."""

    def __init__(self, path: str, *, uri: bool = False, max_batch: int = 512, autocheckpoint: bool = True) -> None:
        self._path = path
        self._autocheckpoint = autocheckpoint
        self._uri = uri
        self._max_batch = max_batch
        self._queues: dict[asyncio.AbstractEventLoop, _LoopQueue] = {}
        self._lock = threading.Lock()

    def submit(self, event: AuditEvent) -> asyncio.Future[int]:
        """Queue ``event``; the future resolves to its seq once its batch is committed."""
        loop = asyncio.get_running_loop()
        q = self._queues.get(loop) or self._open(loop)
        future: asyncio.Future[int] = loop.create_future()
        q.items.append((event, future))
        if not q.scheduled:
            q.scheduled = True
            q.deadline = time.monotonic() + _LOCK_WAIT_S
            loop.call_soon(self._flush, q)
        return future

    def close(self) -> None:
        """Close every loop's connection, each on its own loop's thread (a sqlite3 connection must not be
        closed while that thread may be using it). Entries still queued fail (callers drain first)."""
        with self._lock:
            queues = list(self._queues.values())
            self._queues.clear()
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for q in queues:
            if q.loop is current or q.loop.is_closed() or not q.loop.is_running():
                _shutdown(q)
            else:
                q.loop.call_soon_threadsafe(_shutdown, q)

    def _open(self, loop: asyncio.AbstractEventLoop) -> _LoopQueue:
        conn = sqlite3.connect(self._path, uri=self._uri, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=0")  # never wait on the loop: retried with call_later instead
        if not self._autocheckpoint:
            no_autocheckpoint(conn)  # the Database's checkpoint thread does it (vault.db.wal)
        q = _LoopQueue(loop, conn)
        with self._lock:
            for old in [k for k in self._queues if k.is_closed()]:  # loops of finished asyncio.run() calls
                self._queues.pop(old).conn.close()
            self._queues[loop] = q
        return q

    def _flush(self, q: _LoopQueue) -> None:
        if q.closed:
            return
        while q.items:
            batch = q.items[: self._max_batch]
            try:
                _begin(q.conn)
            except sqlite3.OperationalError as exc:
                if is_busy(exc) and time.monotonic() < q.deadline:
                    q.loop.call_later(q.delay, self._flush, q)
                    q.delay = min(q.delay * 2, _RETRY_MAX_S)
                    return
                del q.items[: len(batch)]
                _fail(batch, exc)
                continue
            q.delay = _RETRY_FIRST_S
            del q.items[: len(batch)]
            self._write(q.conn, batch)
        q.scheduled = False

    def _write(self, conn: sqlite3.Connection, batch: list[tuple[AuditEvent, asyncio.Future[int]]]) -> None:
        """Chain and insert ``batch`` in the open transaction, commit, and settle its waiters."""
        try:
            seqs = append_sqlite(conn, [e for e, _ in batch])
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if len(batch) == 1:
                _fail(batch, exc)
                return
            for one in batch:  # one bad entry must not fail the others
                try:
                    _begin_now(conn)
                except sqlite3.OperationalError as again:
                    _fail([one], again)
                    continue
                self._write(conn, [one])
            return
        for (_, future), seq in zip(batch, seqs, strict=True):
            if not future.done():
                future.set_result(seq)


_INSERT_ENTRIES = insert(cast(Table, AuditEntryRow.__table__))
_INSERT_SUBJECTS = insert(cast(Table, AuditSubjectRow.__table__))


def append_sqlite(conn: sqlite3.Connection, events: Sequence[AuditEvent]) -> list[int]:
    """Chain ``events`` after the head read in ``conn``'s open write transaction and insert them (and their
    subject rows) straight through sqlite3 (:mod:`vault.db.direct_sqlite`: SQLAlchemy's own conversions, so
    the rows are stored exactly as SQLAlchemy stores them); returns their seqs. Shared by this writer and the
    in-transaction append (:func:`vault.audit.log.append`)."""
    head = conn.execute(HEAD_SQL).fetchone()
    seq, prev = (int(head[0]), str(head[1])) if head else (0, None)
    rows, subjects = chain_rows(events, seq, prev, utcnow())
    execute_on(conn, _INSERT_ENTRIES, rows)
    execute_on(conn, _INSERT_SUBJECTS, subjects)
    return [r["seq"] for r in rows]


def _shutdown(q: _LoopQueue) -> None:
    q.closed = True
    pending, q.items = q.items, []
    _fail(pending, RuntimeError("the audit writer was closed"))
    q.conn.close()


def _begin(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")


def _begin_now(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting briefly for the lock (only on the rare per-entry retry path)."""
    deadline = time.monotonic() + 1.0
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.0005)


def _fail(batch: list[tuple[AuditEvent, asyncio.Future[int]]], exc: BaseException) -> None:
    from vault.audit.errors import AuditWriteError

    for event, future in batch:
        # The driver's message may carry the statement's parameters: log the error class only.
        log.error("audit entry %r could not be committed: %s", event.action, type(exc).__name__)
        if not future.done():
            future.set_exception(AuditWriteError("audit entry could not be committed"))

