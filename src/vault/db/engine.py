"""Engine and session factory, built explicitly (never at import time)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Executable, Row, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

WRITE_OPTION = "vault_write"

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

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
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        # Durable audit appends get their own small pool: requests hold a pooled connection while they
        # wait for their audit batch, so the batch writer must never queue behind them for one.
        audit_kwargs = {**kwargs, "pool_size": 2, "max_overflow": 0}
        self.audit_engine: AsyncEngine = create_async_engine(self.url, **audit_kwargs)
        if not self.is_postgres:
            for eng in (self.engine, self.audit_engine):
                event.listen(eng.sync_engine, "connect", sqlite_pragmas)
                # aiosqlite: let SQLAlchemy emit BEGIN itself so write transactions can be IMMEDIATE.
                event.listen(eng.sync_engine, "connect", _disable_pysqlite_begin)
                event.listen(eng.sync_engine, "begin", _begin_immediate)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite point reads skip aiosqlite's thread hops: a primary-key SELECT on a local file takes
        # microseconds, less than handing it to a thread and back (DESIGN.md, performance notes).
        self._sync_reads: Engine | None = None
        if not self.is_postgres:
            self._sync_reads = create_engine(sync_url(url), pool_size=pool_size, max_overflow=pool_size)
            event.listen(self._sync_reads, "connect", sqlite_pragmas)
        # Write sessions begin lazily, at their first statement: a request denied before touching the
        # database holds no write lock while its denial is audited through group commit.
        self.write_sessions = async_sessionmaker(
            self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False)
        self.audit_sessions = async_sessionmaker(
            self.audit_engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False)

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

    async def fetch_one(self, statement: Executable) -> Row[Any] | None:
        """Run a single-row, read-only Core statement outside any session (autocommit read)."""
        if self._sync_reads is not None:
            with self._sync_reads.connect() as conn:
                return conn.execute(statement).first()
        async with self.engine.connect() as conn:
            return (await conn.execute(statement)).first()

    @asynccontextmanager
    async def audit_write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction on the audit writer's own pool (see ``audit_engine``)."""
        async with self.audit_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction (rolled back at the end)."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        await self.audit_engine.dispose()
        if self._sync_reads is not None:
            self._sync_reads.dispose()


def _disable_pysqlite_begin(dbapi_conn: Any, _record: Any) -> None:
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    dbapi_conn.isolation_level = None


def _begin_immediate(conn: Any) -> None:
    if conn.get_execution_options().get(WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")
