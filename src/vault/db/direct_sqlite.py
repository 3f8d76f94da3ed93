"""Statements built with SQLAlchemy Core, run straight through the sqlite3 module on SQLite.

A primary-key SELECT on a local SQLite file takes a few microseconds in sqlite3; through a pooled
SQLAlchemy ``Connection.execute`` the same read costs about ten times that in Python (checkout,
execution context, result metadata). The single customer read does two of them per request, so
this module keeps one sqlite3 connection per thread (WAL, autocommit: each SELECT is its own
snapshot) and runs statements built once with SQLAlchemy Core: each is compiled once for the
SQLite dialect, and its parameters and columns go through the same bind and result processors
SQLAlchemy would apply (UUIDs as 32 hex digits, ISO timestamps, JSON), so a row reads the same
as a SQLAlchemy row with the same attribute names.

The same compiled forms serve the hot write paths (:func:`fetch_on`, :func:`execute_on`): inside a
write transaction they run on the session's own sqlite3 connection (the inline shim,
:func:`vault.db.inline_sqlite.sqlite3_of`), with the same bind processors, so what is stored is
byte-identical to what SQLAlchemy would store. An INSERT that would need a Python-side column default
SQLAlchemy fills in is refused (:class:`NotDirect`), so callers give every column.

PostgreSQL stays on the async engine (asyncpg prepares and caches statements itself).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import namedtuple
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Insert, Select, Update
from sqlalchemy.dialects import sqlite as sqlite_dialect

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from sqlalchemy import ClauseElement
    from sqlalchemy.sql.compiler import SQLCompiler

_DIALECT = sqlite_dialect.dialect()


@dataclass(frozen=True)
class _Prepared:
    sql: str
    #: ``params`` -> the driver's positional values, each through its bind processor (generated below).
    args: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    #: A driver row -> a named row with each non-NULL value through its result processor (generated below).
    convert: Callable[[tuple[Any, ...]], Any]


def _args_function(names: tuple[str, ...], binds: tuple[Callable[[Any], Any] | None, ...],
                   ) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """``lambda params: (b0(params["x"]), params["y"], ...)`` for these names and processors, written out once per
    statement (as ``namedtuple`` and ``dataclasses`` write their methods): a generic loop over the processors
    cost a twentieth of a point read's CPU."""
    env: dict[str, Any] = {f"b{i}": b for i, b in enumerate(binds) if b is not None}
    parts = [f"params[{n!r}]" if b is None else f"b{i}(params[{n!r}])" for i, (n, b) in enumerate(zip(names, binds,
                                                                                                      strict=True))]
    exec(f"def args(params):\n    return ({''.join(p + ', ' for p in parts)})\n", env)  # noqa: S102 - see above
    return cast("Callable[[Mapping[str, Any]], tuple[Any, ...]]", env["args"])


def _convert_function(results: tuple[Callable[[Any], Any] | None, ...], row: Callable[..., Any],
                      ) -> Callable[[tuple[Any, ...]], Any]:
    """``lambda raw: row(raw[0], None if raw[1] is None else r1(raw[1]), ...)``, written out once (see above)."""
    env: dict[str, Any] = {"row": row, **{f"r{i}": r for i, r in enumerate(results) if r is not None}}
    parts = [f"v{i}" if r is None else f"(None if v{i} is None else r{i}(v{i}))" for i, r in enumerate(results)]
    names = "".join(f"v{i}, " for i in range(len(results)))
    body = f"    ({names}) = raw\n    return row({', '.join(parts)})\n" if results else "    return row(*raw)\n"
    exec(f"def convert(raw):\n{body}", env)  # noqa: S102 - see _args_function
    return cast("Callable[[tuple[Any, ...]], Any]", env["convert"])


class NotDirect(Exception):  # noqa: N818 - a signal to use the SQLAlchemy path, not an error
    """The statement needs SQLAlchemy's execution (a Python-side default it would fill in)."""


def prepare(statement: ClauseElement, keys: tuple[str, ...] | None = None) -> _Prepared:
    """Compile ``statement`` once for SQLite, with its parameters' and columns' processors. ``keys``: the
    parameter names an INSERT or UPDATE receives (its SET / VALUES columns).

    Raises:
        NotDirect: an INSERT (UPDATE) without a column that has a Python-side default (onupdate).
    """
    if keys is not None and isinstance(statement, Insert | Update):
        filled = "default" if isinstance(statement, Insert) else "onupdate"
        missing = [c.key for c in statement.table.columns
                   if c.key not in keys and getattr(c, filled) is not None]
        if missing:
            raise NotDirect(f"no value for {', '.join(missing)}")
    compiled = cast("SQLCompiler", statement.compile(dialect=_DIALECT,
                                                     column_keys=list(keys) if keys is not None else None))
    names = tuple(compiled.positiontup or ())
    binds = tuple(compiled.binds[n].type.dialect_impl(_DIALECT).bind_processor(_DIALECT) for n in names)
    columns = list(statement.selected_columns) if isinstance(statement, Select) else []
    results = tuple(c.type.dialect_impl(_DIALECT).result_processor(_DIALECT, None) for c in columns)
    row = namedtuple("DirectRow", [c.key or f"c{i}" for i, c in enumerate(columns)] or ["_"], rename=True)  # type: ignore[misc]
    return _Prepared(compiled.string, _args_function(names, binds), _convert_function(results, row))


_CACHE: dict[tuple[int, tuple[str, ...] | None], tuple[ClauseElement, _Prepared]] = {}


def _cached(statement: ClauseElement, keys: tuple[str, ...] | None = None) -> _Prepared:
    found = _CACHE.get((id(statement), keys))
    if found is None or found[0] is not statement:
        found = (statement, prepare(statement, keys))
        _CACHE[(id(statement), keys)] = found
    return found[1]


def fetch_on(conn: sqlite3.Connection, statement: Select[Any], params: Mapping[str, Any]) -> list[Any]:
    """Rows of a SELECT built once, on ``conn`` (attribute access by column key, like SQLAlchemy rows)."""
    p = _cached(statement)
    return [p.convert(r) for r in conn.execute(p.sql, p.args(params)).fetchall()]


def execute_on(conn: sqlite3.Connection, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> int:
    """An INSERT / UPDATE built once, for each of ``rows`` (all with the same keys), on ``conn``; returns the
    rows changed.

    Raises:
        NotDirect: see :func:`prepare` (nothing was executed).
    """
    if not rows:
        return 0
    p = _cached(statement, tuple(rows[0]))
    return executemany_counted(conn, p.sql, [p.args(r) for r in rows])


def executemany_counted(conn: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """``executemany`` on ``conn``; returns the rows it changed (those skipped by ``ON CONFLICT DO NOTHING``
    are not counted: sqlite3's ``rowcount`` of an executemany does not say that)."""
    before = conn.total_changes
    conn.executemany(sql, rows)
    return conn.total_changes - before


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite refusing its write lock held by another connection (retry later)."""
    text = str(exc)
    return "locked" in text or "busy" in text


class PointReads:
    """One sqlite3 connection per thread for short, read-only Core statements (SQLite only)."""

    def __init__(self, path: str, *, uri: bool = False, setup: Callable[[Any], None]) -> None:
        self._path = path
        self._uri = uri
        self._setup = setup
        self._local = threading.local()
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

    def fetch_all(self, statement: Select[Any], params: Mapping[str, Any]) -> list[Any]:
        """Rows of ``statement`` (attribute access by column key, like SQLAlchemy rows)."""
        return fetch_on(self._conn(), statement, params)

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
