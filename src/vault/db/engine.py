"""Engine and session factory, built explicitly (never at import time)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine, Row, Select, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only

from vault.db.direct_sqlite import PointReads, is_busy
from vault.db.inline_sqlite import inline_connect
from vault.db.wal import WalCheckpoints, no_autocheckpoint

WRITE_OPTION = "vault_write"
BUSY_TIMEOUT_S = 30.0

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry


def async_url(url: str) -> str:
    """Return ``url`` with an async driver (aiosqlite / asyncpg)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return u.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if u.get_backend_name() == "postgresql" and u.get_driver_name() not in ("asyncpg", "psycopg"):
        return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    return url


def sync_url(url: str) -> str:
    """Return ``url`` with a synchronous driver (pysqlite / psycopg), for Alembic and bulk loads."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return u.set(drivername="sqlite").render_as_string(hide_password=False)
    if u.get_backend_name() == "postgresql":
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return make_url(url).get_backend_name() == "postgresql"


def sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry | None = None) -> None:
    """WAL, foreign keys and a busy timeout on every SQLite connection."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Database:
    """An async engine plus its session factory, owned by the app or CLI."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.is_postgres = is_postgres(url)
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_postgres:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)
            # Each SQLite call inline on the loop's thread, not through aiosqlite's thread (vault.db.inline_sqlite).
            kwargs["async_creator"] = _inline_creator(self.url)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        # Durable audit appends get their own small pool: requests hold a pooled connection while they
        # wait for their audit batch, so the batch writer must never queue behind them for one.
        audit_kwargs = {**kwargs, "pool_size": 2, "max_overflow": 0}
        self.audit_engine: AsyncEngine = create_async_engine(self.url, **audit_kwargs)
        if not self.is_postgres:
            for eng in (self.engine, self.audit_engine):
                event.listen(eng.sync_engine, "connect", sqlite_pragmas)
                # Waiting for another process's write lock happens in _begin_immediate, polling briefly
                # in asyncio, instead of in SQLite's busy handler (which sleeps up to 100 ms per retry).
                # In WAL mode nothing else on these connections waits on a lock.
                event.listen(eng.sync_engine, "connect", _no_busy_handler)
                # aiosqlite: let SQLAlchemy emit BEGIN itself so write transactions can be IMMEDIATE.
                event.listen(eng.sync_engine, "connect", _disable_pysqlite_begin)
                event.listen(eng.sync_engine, "begin", self._begin)
                event.listen(eng.sync_engine.pool, "checkin", self._checkin)
                event.listen(eng.sync_engine.pool, "invalidate", self._checkin)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock: asyncio.Lock | None = None
        self._write_owner: asyncio.Task[Any] | None = None
        self._lock_dbapi: Any = None
        self._turn: WriterTurn | None = None
        # SQLite point reads go straight through sqlite3 (vault.db.direct_sqlite): a primary-key SELECT on
        # a local file takes microseconds, less than SQLAlchemy's execution path around it.
        self._point_reads: PointReads | None = None
        # WAL checkpoints on a thread of their own, not inside some request's commit (vault.db.wal).
        self._checkpoints: WalCheckpoints | None = None
        if not self.is_postgres:
            database = make_url(self.url).database or ":memory:"
            uri = database.startswith("file:")
            self._point_reads = PointReads(database, uri=uri, setup=sqlite_pragmas)
            if database != ":memory:" and "mode=memory" not in database:
                if not uri:  # a file: URI may carry parameters; its writers keep to SQLite's retries alone
                    self._turn = WriterTurn(f"{database}-writer.lock")
                self._checkpoints = WalCheckpoints(database, uri=uri)
                for eng in (self.engine, self.audit_engine):
                    event.listen(eng.sync_engine, "connect", no_autocheckpoint)
        self._sync_bulk: Engine | None = None
        # Write sessions begin lazily, at their first statement: a request denied before touching the
        # database holds no write lock while its denial is audited through group commit.
        self.write_sessions = async_sessionmaker(
            self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False)
        self.audit_sessions = async_sessionmaker(
            self.audit_engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False)

    @property
    def checkpoints_in_background(self) -> bool:
        """Whether a thread checkpoints the WAL (SQLite file): connections then leave it to that thread."""
        return self._checkpoints is not None

    def session(self) -> AsyncSession:
        """Open a new session (caller commits)."""
        return self.sessions()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed on success, rolled back on any error.

        On SQLite it starts with ``BEGIN IMMEDIATE`` so the write lock is taken up
        front (no deferred-upgrade ``database is locked``), and the audit chain head
        read inside it is stable.
        """
        async with self.write_sessions() as session, session.begin():
            yield session

    # SQLite allows one writer. Without a queue, concurrent write transactions of one process contend
    # inside SQLite's busy handler, which sleeps up to 100 ms per retry. So a write transaction first
    # takes this process's asyncio lock: at its first statement (from the "begin" event, inside
    # SQLAlchemy's greenlet, so a request denied before touching the database holds nothing), and
    # gives it back when its connection returns to the pool, i.e. after COMMIT or ROLLBACK.

    def _begin(self, conn: Any) -> None:
        if not conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN")
            return
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        dbapi = conn.connection.dbapi_connection
        if self._lock_dbapi is not dbapi:
            await_only(self._write_lock.acquire())
            self._lock_dbapi = dbapi
            self._write_owner = asyncio.current_task()
        deadline = time.monotonic() + BUSY_TIMEOUT_S  # the turn and SQLite's lock together, as before turns
        try:
            if self._turn is not None:
                self._turn.take(deadline)
            _begin_immediate(dbapi, deadline)
        except BaseException:
            self._release(dbapi)
            raise

    def _checkin(self, dbapi: Any, *_: Any) -> None:
        self._release(dbapi)

    def _release(self, dbapi: Any) -> None:
        if self._lock_dbapi is not None and self._lock_dbapi is dbapi and self._write_lock is not None:
            self._lock_dbapi = None
            self._write_owner = None
            if self._turn is not None:
                self._turn.give()
            self._write_lock.release()

    def holds_write_lock(self) -> bool:
        """Whether the current task is inside a SQLite write transaction of this process."""
        return self._write_owner is not None and self._write_owner is asyncio.current_task()

    async def fetch_one(self, statement: Select[Any], params: Mapping[str, Any]) -> Row[Any] | None:
        """Run a single-row, read-only Core statement outside any session (autocommit read).

        Pass a statement built once with ``bindparam`` and its ``params``: on SQLite it is compiled
        once and run through sqlite3 directly (:mod:`vault.db.direct_sqlite`); on PostgreSQL asyncpg
        prepares and caches it. Rows have the statement's column keys as attributes.
        """
        rows = await self.fetch_all(statement, params)
        return rows[0] if rows else None

    async def fetch_all(self, statement: Select[Any], params: Mapping[str, Any]) -> list[Row[Any]]:
        """Like :meth:`fetch_one`, for a short read-only statement returning a few rows."""
        if self._point_reads is not None:
            return self._point_reads.fetch_all(statement, params)
        async with self.engine.connect() as conn:
            return list((await conn.execute(statement, params)).all())

    def sync_engine(self) -> Engine:
        """A synchronous engine for long reads run in a thread, off the event loop (contact resolution).

        A small pool (pysqlite / psycopg) made on first use.
        """
        if self._sync_bulk is None:
            self._sync_bulk = create_engine(sync_url(self.url), pool_size=2, max_overflow=4, pool_pre_ping=True)
            if not self.is_postgres:
                event.listen(self._sync_bulk, "connect", sqlite_pragmas)
        return self._sync_bulk

    @asynccontextmanager
    async def audit_write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction on the audit writer's own pool (see ``audit_engine``)."""
        async with self.audit_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def on_demand(self) -> AsyncIterator[AsyncSession]:
        """A read session that exists only if it is used: for requests that usually need none (the single
        customer read reads its rows with :meth:`fetch_one`; only a consent-based purpose asks the ledger).
        Creating and closing an unused ``AsyncSession`` cost about a tenth of such a request."""
        lazy = _OnDemandSession(self.sessions)
        try:
            yield cast("AsyncSession", lazy)
        finally:
            await lazy.aclose()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction (rolled back at the end)."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        await self.audit_engine.dispose()
        if self._point_reads is not None:
            self._point_reads.close()
        if self._sync_bulk is not None:
            self._sync_bulk.dispose()
        if self._checkpoints is not None:
            self._checkpoints.close()
            self._checkpoints = None
        if self._turn is not None:
            self._turn.close()


class _OnDemandSession:
    """Stands in for an ``AsyncSession``; the real one is created at its first use."""

    __slots__ = ("_factory", "_session")

    def __init__(self, factory: Callable[[], AsyncSession]) -> None:
        self._factory = factory
        self._session: AsyncSession | None = None

    def __getattr__(self, name: str) -> Any:
        if self._session is None:
            self._session = self._factory()
        return getattr(self._session, name)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _inline_creator(url: str) -> Callable[[], Awaitable[Any]]:
    u = make_url(url)
    database = u.database or ":memory:"
    uri = database.startswith("file:")

    async def connect() -> Any:
        return inline_connect(database, uri=uri)

    return connect


def _disable_pysqlite_begin(dbapi_conn: Any, _record: Any) -> None:
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    dbapi_conn.isolation_level = None


def _no_busy_handler(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=0")
    cur.close()


#: Longest pause between attempts at SQLite's write lock held by another process. A write transaction holds it
#: for about 1-2 ms; with 2 ms pauses the lock sat idle while the other worker slept (POST consents 741-772 rps
#: saturated), with 0.5 ms it changes hands sooner (983-986 rps, at about 0.3 ms more CPU per request spent on
#: the attempts; same bench, alternating runs); 0.3 ms polled too often (911-956 rps).
LOCK_POLL_MAX_S = 0.0005


class WriterTurn:
    """The vault's processes take turns at SQLite's write lock through an advisory lock on a file beside the
    database (``flock``): a write transaction that finds the other process's turn in progress waits for it in a
    thread, woken by the kernel the moment it ends, instead of retrying ``BEGIN IMMEDIATE`` on a timer.

    An optimization only: SQLite's own lock still decides (writers that take no turn, like the audit group
    commit, are met by :func:`_begin_immediate`'s retries), and the kernel drops a dead process's turn.
    """

    def __init__(self, path: str) -> None:
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._held = False

    def take(self, deadline: float) -> None:
        """Wait for this process's turn until ``deadline`` (``time.monotonic()``); runs in SQLAlchemy's greenlet,
        one caller at a time per process. Past the deadline it returns without the turn, and SQLite's lock
        decides (``BEGIN IMMEDIATE`` then fails as busy if the other process still writes)."""
        fd = self._fd
        if fd is None or self._held:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting = asyncio.get_running_loop().run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
            try:
                await_only(asyncio.wait_for(asyncio.shield(waiting), max(deadline - time.monotonic(), 0.0)))
            except BaseException as exc:
                # Cancelled or out of time while the thread still waits: give the turn back once it comes.
                waiting.add_done_callback(lambda f: f.cancelled() or f.exception() or self._unlock(fd))
                if isinstance(exc, TimeoutError):
                    return
                raise
        self._held = True

    def give(self) -> None:
        """End this process's turn (after COMMIT or ROLLBACK)."""
        if self._held and self._fd is not None:
            self._held = False
            self._unlock(self._fd)

    @staticmethod
    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):  # closed meanwhile: the kernel released it
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (its lock goes with it)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            self._held = False
            os.close(fd)


def _begin_immediate(dbapi: Any, deadline: float) -> None:
    """BEGIN IMMEDIATE, retrying until ``deadline`` (``time.monotonic()``) while another process holds SQLite's
    write lock (runs in SQLAlchemy's greenlet)."""
    delay = 0.0002
    cur = dbapi.cursor()
    try:
        while True:
            try:
                cur.execute("BEGIN IMMEDIATE")
                return
            except Exception as exc:
                if not is_busy(exc):
                    raise
                if time.monotonic() > deadline:
                    raise
            await_only(asyncio.sleep(delay))
            delay = min(delay * 2, LOCK_POLL_MAX_S)
    finally:
        cur.close()
