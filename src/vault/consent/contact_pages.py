"""Pass 2 of contact resolution, one range of audited ids at a time: read, decrypt, encode as NDJSON.

Runs in a worker process of :class:`ContactPool` (large answers) or in a thread of the serving
process (small ones, or a KEK provider that cannot leave the process). It imports no SQLAlchemy,
so a spawned worker starts in a fraction of a second: :mod:`vault.consent.contacts` compiles the
eligibility statement to the driver's SQL and parameters, and the worker runs it on a plain DBAPI
connection (one per worker process, autocommit: every page is one statement, one snapshot).

A row is sent only when its id is among the audited ids of the task's range: a customer who became
eligible after the audit entry was written is never sent, and one who withdrew, was restricted or
erased since then no longer matches the statement.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from vault.crypto.envelope import FieldCipher

if TYPE_CHECKING:
    from vault.crypto.keys import KeyProvider

_decode_sealed = msgspec.msgpack.Decoder(dict[str, bytes]).decode  # the format of vault.customers.records
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Source:
    """Where a worker process reads: the DBAPI module and its connect arguments (from SQLAlchemy's dialect)."""

    driver: str  # "sqlite3" or "psycopg"
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class PageTask:
    """One range of audited ids to read, decrypt and encode (picklable)."""

    source: Source
    sql: str
    params: Any  # a tuple (qmark) or a dict (pyformat), values already in the driver's types
    #: The audited ids of this range, packed 16 bytes each, ascending; the statement selects the same range.
    audited: bytes
    fields: tuple[str, ...]  # decrypted and sent
    required: tuple[str, ...]  # a row lacking one of these is not sent
    provider: KeyProvider = field(repr=False)


@dataclass(frozen=True, slots=True)
class Page:
    """A task's answer: NDJSON lines (``b""`` when none) and how many rows the statement returned."""

    ndjson: bytes
    lines: int
    read: int


_local = threading.local()


def _connection(source: Source) -> Any:
    """This process's (thread's) connection to ``source``, opened on first use."""
    conns: dict[Source, Any] | None = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    conn = conns.get(source)
    if conn is None:
        if source.driver == "sqlite3":
            import sqlite3

            conn = sqlite3.connect(*source.args, **dict(source.kwargs))
            conn.execute("PRAGMA query_only=1")
        else:
            import psycopg

            conn = psycopg.connect(*source.args, **dict(source.kwargs), autocommit=True)
        conns[source] = conn
    return conn


def _forget(source: Source) -> None:
    conn = getattr(_local, "conns", {}).pop(source, None)
    if conn is not None:
        with contextlib.suppress(Exception):  # already broken; nothing to release
            conn.close()


def _read(conn: Any, task: PageTask) -> list[Any]:
    cur = conn.cursor()
    try:
        cur.execute(task.sql, task.params)
        return list(cur.fetchall())
    finally:
        cur.close()


def render(task: PageTask, conn: Any = None) -> Page:
    """Read the task's range (on ``conn``, else this process's own connection), decrypt, encode."""
    if conn is not None:
        rows = _read(conn, task)
    else:
        try:
            rows = _read(_connection(task.source), task)
        except Exception:  # a kept connection that broke (server restarted): once more on a new one
            _forget(task.source)
            rows = _read(_connection(task.source), task)
    text = task.audited.hex()
    if task.source.driver != "sqlite3":  # PostgreSQL's uuid as text is 8-4-4-4-12; SQLite stores 32 hex digits
        rows = [(cid.replace("-", ""), *rest) for cid, *rest in rows]
    decode = _decode_sealed
    if "".join(row[0] for row in rows) == text:  # the usual case: exactly the audited ids are still eligible
        records = [(hex_id, kek_version, wrapped, dek_version, decode(sealed))
                   for hex_id, kek_version, wrapped, dek_version, sealed in rows
                   if wrapped is not None and kek_version is not None]  # else: crypto-shredded
    else:
        audited = {text[i:i + 32] for i in range(0, len(text), 32)}
        records = [(hex_id, kek_version, wrapped, dek_version, decode(sealed))
                   for hex_id, kek_version, wrapped, dek_version, sealed in rows
                   if hex_id in audited  # else: eligible only since the audit entry was written
                   and wrapped is not None and kek_version is not None]
    required = frozenset(task.required)
    lines = []
    for record, values in zip(records, FieldCipher(task.provider).open_rows(records, task.fields), strict=True):
        if not required <= values.keys():
            continue
        h = record[0]
        values["customer_id"] = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        lines.append(_encode(values))
    return Page(b"\n".join(lines) + b"\n" if lines else b"", len(lines), len(rows))


class ContactPool:
    """Worker processes for large contact answers, started on first use and kept for the process's life.

    Args:
        processes: How many workers (each reads and decrypts its own ranges).
    """

    def __init__(self, processes: int) -> None:
        self.processes = max(1, processes)
        self._executor: ProcessPoolExecutor | None = None
        self._broken = False
        self._lock = threading.Lock()

    def executor(self) -> ProcessPoolExecutor:
        """The pool (spawned processes: nothing of the serving process is inherited); a new one when a worker
        died (killed, out of memory), which breaks a process pool for good."""
        with self._lock:
            if self._executor is not None and (self._broken or getattr(self._executor, "_broken", False)):
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
            if self._executor is None:
                self._executor = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"))
                self._broken = False
            return self._executor

    def submit(self, task: PageTask) -> Future[Page]:
        """Render ``task`` in a worker."""
        try:
            future = self.executor().submit(render, task)
        except BrokenProcessPool:  # a worker died since the last task: start a new pool
            self._broken = True
            future = self.executor().submit(render, task)
        future.add_done_callback(self._check)
        return future

    def _check(self, future: Future[Page]) -> None:
        if not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
            self._broken = True

    def close(self) -> None:
        """Stop the workers and wait for them to exit (pending tasks are cancelled; a running one finishes, well
        under a second): a serving process that shuts down leaves no worker nor semaphore behind."""
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None
