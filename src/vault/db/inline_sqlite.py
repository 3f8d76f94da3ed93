"""An aiosqlite-shaped connection that runs each SQLite call inline, on the event loop's thread.

aiosqlite hands every call (cursor, execute, fetch, commit) to a per-connection thread and back,
so a write transaction of ten short statements costs ten thread hops and ten event-loop
iterations; on two busy cores each hop waits for the scheduler, and the transaction holds
SQLite's single write lock all that time. A primary-key read or a small insert on a local
SQLite file takes microseconds, less than the hop (docs/design.md, performance notes), so the
server's engine uses this shim instead (SQLAlchemy's ``async_creator_fn``): the same sqlite3
calls, made directly. A statement that runs long (a large scan) blocks the loop for its
duration instead of a thread; the vault's long readers (contacts, extracts, audit exports)
work in keyset pages.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Generator, Iterable

    from sqlalchemy.ext.asyncio import AsyncConnection


class _Now:
    """Stands in for aiosqlite's request queue (SQLAlchemy sets the isolation level through it): runs at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class InlineCursor:
    """aiosqlite's cursor interface over a sqlite3 cursor, without the thread."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    def __aiter__(self) -> InlineCursor:
        return self

    async def __anext__(self) -> Any:
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """aiosqlite's connection interface (what SQLAlchemy's aiosqlite dialect uses) over a sqlite3 connection."""

    def __init__(self, database: str, **kwargs: Any) -> None:
        kwargs["check_same_thread"] = False  # the engine may be disposed from another thread at shutdown
        self._conn: sqlite3.Connection | None = sqlite3.connect(database, **kwargs)
        self._tx = _Now()

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._opened().__await__()

    async def _opened(self) -> InlineConnection:
        return self

    @property
    def _connection(self) -> sqlite3.Connection | None:  # SQLAlchemy checks it before commit/rollback
        return self._conn

    @property
    def raw(self) -> sqlite3.Connection:
        """The sqlite3 connection itself, for statements run without SQLAlchemy in the same transaction."""
        return self._open()

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("Connection closed")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    @property
    def total_changes(self) -> int:
        return self._open().total_changes

    @property
    def in_transaction(self) -> bool:
        return self._open().in_transaction

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._open().cursor())

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        return InlineCursor(self._open().execute(sql, parameters))

    async def commit(self) -> None:
        self._open().commit()

    async def rollback(self) -> None:
        self._open().rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def inline_connect(*args: Any, **kwargs: Any) -> InlineConnection:
    """``async_creator_fn`` for ``create_async_engine("sqlite+aiosqlite://...")``."""
    return InlineConnection(*args, **kwargs)


async def sqlite3_of(conn: AsyncConnection) -> sqlite3.Connection | None:
    """The sqlite3 connection under an async SQLAlchemy connection of the vault's SQLite engine (inline
    shim), else None (PostgreSQL, or another driver): for hot statements run straight through sqlite3
    in the connection's current transaction."""
    if conn.dialect.name != "sqlite":
        return None
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    return driver.raw if isinstance(driver, InlineConnection) else None
