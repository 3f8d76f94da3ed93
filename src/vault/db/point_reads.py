"""Short reads on SQLite straight through the sqlite3 module, with SQLAlchemy's type conversions.

A primary-key SELECT on a local SQLite file takes a few microseconds in sqlite3; through a pooled
SQLAlchemy ``Connection.execute`` the same read costs about ten times that in Python (checkout,
execution context, result metadata). The single customer read does two of them per request, so
this module keeps one sqlite3 connection per thread (WAL, autocommit: each SELECT is its own
snapshot) and runs statements built once with SQLAlchemy Core: each is compiled once for the
SQLite dialect, and its parameters and columns go through the same bind and result processors
SQLAlchemy would apply (UUIDs as 32 hex digits, ISO timestamps, JSON), so a row reads the same
as a SQLAlchemy row with the same attribute names.

PostgreSQL reads stay on the async engine (asyncpg prepares and caches statements itself).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import namedtuple
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import sqlite as sqlite_dialect

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from sqlalchemy import Select

_DIALECT = sqlite_dialect.dialect()


@dataclass(frozen=True)
class _Prepared:
    sql: str
    names: tuple[str, ...]
    binds: tuple[Callable[[Any], Any] | None, ...]
    results: tuple[Callable[[Any], Any] | None, ...]
    row: Callable[..., Any]

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(params[n] if p is None else p(params[n]) for n, p in zip(self.names, self.binds, strict=True))

    def convert(self, raw: tuple[Any, ...]) -> Any:
        return self.row(*[v if p is None or v is None else p(v) for v, p in zip(raw, self.results, strict=True)])


def prepare(statement: Select[Any]) -> _Prepared:
    """Compile ``statement`` once for SQLite, with its parameters' and columns' processors."""
    compiled = statement.compile(dialect=_DIALECT)
    names = tuple(compiled.positiontup or ())
    binds = tuple(compiled.binds[n].type.dialect_impl(_DIALECT).bind_processor(_DIALECT) for n in names)
    columns = list(statement.selected_columns)
    results = tuple(c.type.dialect_impl(_DIALECT).result_processor(_DIALECT, None) for c in columns)
    row = namedtuple("PointRow", [c.key or f"c{i}" for i, c in enumerate(columns)], rename=True)  # type: ignore[misc]
    return _Prepared(compiled.string, names, binds, results, row)


class PointReads:
    """One sqlite3 connection per thread for short, read-only Core statements (SQLite only)."""

    def __init__(self, path: str, *, uri: bool = False, setup: Callable[[Any], None]) -> None:
        self._path = path
        self._uri = uri
        self._setup = setup
        self._local = threading.local()
        self._prepared: dict[int, tuple[Any, _Prepared]] = {}
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, uri=self._uri, isolation_level=None, check_same_thread=False)
            self._setup(conn)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _statement(self, statement: Select[Any]) -> _Prepared:
        found = self._prepared.get(id(statement))
        if found is None or found[0] is not statement:
            found = (statement, prepare(statement))
            self._prepared[id(statement)] = found
        return found[1]

    def fetch_all(self, statement: Select[Any], params: Mapping[str, Any]) -> list[Any]:
        """Rows of ``statement`` (attribute access by column key, like SQLAlchemy rows)."""
        p = self._statement(statement)
        rows = self._conn().execute(p.sql, p.args(params)).fetchall()
        return [p.convert(r) for r in rows]

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
