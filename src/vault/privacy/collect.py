"""Reading and decrypting an extract's population: id-range partitions, decrypted in worker processes.

The customers table is cut into ``partitions`` ranges of equal size over the primary key
(one window-function query). Each range is one task: a worker opens its own synchronous
connection, selects the eligible rows of its range (active, not erased, not restricted, lawful
basis now - a correlated EXISTS on ``consent_state`` for consent purposes), unwraps each DEK,
opens only the plan's fields (:meth:`vault.crypto.FieldCipher.open_many`), applies the spec's
filters and pseudonymizes. It returns columns, not objects, plus the packed ids of every
customer it decrypted (the audit's subjects, released or not).

Large populations go to a process pool (2 CPU-bound workers beat one process by ~2x); small
ones, or a KEK provider that cannot leave the process (PKCS#11), run in a thread. Either way
the event loop stays free. Nothing here assumes a single process: every worker reads the
database itself.
"""

from __future__ import annotations

import bisect
import itertools
import multiprocessing
import os
import pickle
import uuid
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Select, String, and_, cast, create_engine, func, select
from sqlalchemy.pool import NullPool

from vault.consent.ledger import basis_clause
from vault.crypto.envelope import FieldCipher
from vault.customers.gate import contactable_clause
from vault.customers.models import CustomerRow
from vault.customers.records import open_many
from vault.db.engine import sync_url
from vault.privacy.spec import RangeFilter

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from sqlalchemy import ColumnElement
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.crypto.keys import KeyProvider
    from vault.crypto.pseudonym import ProjectPseudonyms
    from vault.policy.purposes import Purpose

#: Below this many customers one thread does it all (a process pool costs ~1 s to start).
PARALLEL_MIN = 50_000
#: Rows per partition (tasks are spread over the workers as they free up).
PARTITION_ROWS = 25_000
Filters = dict[str, tuple[str, ...] | RangeFilter]


@dataclass(frozen=True)
class CollectTask:
    """One id range to read, decrypt and pseudonymize (picklable)."""

    url: str
    lo: uuid.UUID | None
    hi: uuid.UUID | None
    purpose: Purpose
    at: datetime
    fields: tuple[str, ...]
    filters: Filters
    provider: KeyProvider
    pseudonyms: ProjectPseudonyms
    #: A segment-scoped extract: the members in this range (32 hex digits each); nobody else is decrypted.
    members: frozenset[str] | None = None


@dataclass
class Collected:
    """A range's result: decrypted ids (packed, ascending), and pseudonyms and values of rows that passed."""

    ids: bytes = b""
    pseudonyms: list[str] = field(default_factory=list)
    values: dict[str, list[str | None]] = field(default_factory=dict)
    scanned: int = 0
    without_basis: int = 0
    filtered_out: int = 0
    outside_segment: int = 0
    #: Packed ids of the rows that passed (in the order of ``pseudonyms``).
    kept: bytes = b""


def eligible_clause(purpose: Purpose) -> ColumnElement[bool]:
    """Customers an extract may read for ``purpose`` (before the lawful-basis check)."""
    return and_(CustomerRow.status == "active", CustomerRow.erased_at.is_(None), CustomerRow.wrapped_dek.is_not(None),
                CustomerRow.kek_version.is_not(None), contactable_clause(purpose))


async def count_customers(session: AsyncSession) -> int:
    """The customers table's size (what :func:`executor_for` and :func:`plan_tasks` go by)."""
    return int(await session.scalar(select(func.count()).select_from(CustomerRow)) or 0)


async def plan_tasks(session: AsyncSession, url: str, purpose: Purpose, at: datetime, fields: tuple[str, ...],
                     filters: Filters, provider: KeyProvider, pseudonyms: ProjectPseudonyms,
                     partition_rows: int = PARTITION_ROWS, *, total: int | None = None,
                     ) -> tuple[list[CollectTask], int]:
    """Cut the customers table into ranges of ``partition_rows``; returns the tasks and the table's size
    (``total`` when the caller counted already)."""
    if total is None:
        total = await count_customers(session)
    bounds: list[uuid.UUID] = []
    if total > partition_rows:
        numbered = select(CustomerRow.id, func.row_number().over(order_by=CustomerRow.id).label("n")).subquery()
        bounds = list((await session.scalars(
            select(numbered.c.id).where((numbered.c.n - 1) % partition_rows == 0, numbered.c.n > 1)
            .order_by(numbered.c.id))).all())
    edges: list[uuid.UUID | None] = [None, *bounds, None]
    sync = sync_url(url)
    tasks = [CollectTask(sync, lo, hi, purpose, at, fields, filters, provider, pseudonyms)
             for lo, hi in itertools.pairwise(edges)]
    return tasks, total


def executor_for(total: int, provider: KeyProvider, workers: int | None = None) -> Executor:
    """A process pool for large populations (when the KEK provider can be sent to it), else one thread.

    The pool's workers are started at once, so they import this module (about 0.5 s each) while the caller
    still plans the ranges.
    """
    if total >= PARALLEL_MIN and _picklable(provider):
        count = workers or max(1, min(os.cpu_count() or 1, 8))
        pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"), initializer=_ready)
        for _ in range(count):  # a spawn pool starts a worker per submit while none is idle
            pool.submit(_ready)
        return pool
    return ThreadPoolExecutor(1, thread_name_prefix="extract")


def _ready() -> None:
    """A worker's first call: unpickling it imports this module."""


def _picklable(obj: object) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:  # any failure means "keep it in this process"
        return False
    return True


_ENGINES: dict[str, Engine] = {}


def _engine(url: str) -> Engine:
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = create_engine(url, poolclass=NullPool)
    return engine


def collect(task: CollectTask) -> Collected:
    """Read, decrypt, filter and pseudonymize one id range (runs in a worker process or thread)."""
    basis = basis_clause(task.purpose, task.at).label("basis")
    where = [eligible_clause(task.purpose)]
    if task.lo is not None:
        where.append(CustomerRow.id >= task.lo)
    if task.hi is not None:
        where.append(CustomerRow.id < task.hi)
    # The id as text (32 hex digits on SQLite, 8-4-4-4-12 on PostgreSQL): no uuid.UUID object per row.
    stmt = select(cast(CustomerRow.id, String), CustomerRow.kek_version, CustomerRow.wrapped_dek,
                  CustomerRow.dek_version, CustomerRow.sealed, basis).where(*where).order_by(CustomerRow.id)
    with _engine(task.url).connect() as conn:
        rows = _fetch(conn, stmt)
    out = Collected(values={name: [] for name in task.fields})
    allowed: list[tuple[str, str, bytes, int, bytes]] = [
        (r[0].replace("-", ""), r[1], r[2], r[3], r[4]) for r in rows if r[5] and r[1] is not None and r[2] is not None]
    out.scanned = len(rows)
    out.without_basis = len(rows) - len(allowed)
    if task.members is not None:
        members = task.members
        inside = [r for r in allowed if r[0] in members]
        out.outside_segment = len(allowed) - len(inside)
        allowed = inside
    out.ids = bytes.fromhex("".join(r[0] for r in allowed))
    cipher = FieldCipher(task.provider)
    keep: list[str] = []
    columns = [out.values[name] for name in task.fields]
    for (hex_id, *_), values in zip(allowed, open_many(cipher, allowed, task.fields), strict=True):
        if task.filters and not passes(task.filters, values):
            out.filtered_out += 1
            continue
        keep.append(hex_id)
        for name, column in zip(task.fields, columns, strict=True):
            column.append(values.get(name))
    out.kept = bytes.fromhex("".join(keep))
    out.pseudonyms = task.pseudonyms.many(out.kept)
    return out


def _fetch(conn: Connection, stmt: Select[*tuple[Any, ...]]) -> list[Any]:
    """The driver's own tuples: every selected type is one the driver returns as is (no Row objects).

    PostgreSQL sends them in binary (psycopg's binary cursor): the sealed blobs arrive as bytes instead of
    hex text to decode, half the bytes on the wire and half the client CPU of the read.
    """
    if conn.dialect.name == "postgresql":
        compiled = stmt.compile(dialect=conn.dialect)
        driver: Any = conn.connection.dbapi_connection
        with driver.cursor(binary=True) as cursor:
            cursor.execute(str(compiled), compiled.params)
            return list(cursor.fetchall())
    result = conn.execute(stmt)
    rows: list[Any] = list(result.cursor.fetchall()) if result.cursor is not None else []
    result.close()
    return rows


def passes(filters: Mapping[str, tuple[str, ...] | RangeFilter], values: Mapping[str, str]) -> bool:
    """Whether a customer's decrypted values satisfy every filter (a missing value never does)."""
    for name, rule in filters.items():
        value = values.get(name)
        if value is None:
            return False
        if isinstance(rule, RangeFilter):
            if not rule.accepts(value):
                return False
        elif value not in rule:
            return False
    return True


def scope_tasks(tasks: list[CollectTask], members: Sequence[str]) -> list[CollectTask]:
    """Give each range task the segment members inside its id range (``members``: sorted 32-hex ids)."""
    out = []
    for task in tasks:
        lo = 0 if task.lo is None else bisect.bisect_left(members, task.lo.hex)
        hi = len(members) if task.hi is None else bisect.bisect_left(members, task.hi.hex)
        out.append(replace(task, members=frozenset(members[lo:hi])))
    return out


def run_all(executor: Executor, tasks: list[CollectTask]) -> list[Any]:
    """Submit every task; the futures in task order."""
    return [executor.submit(collect, task) for task in tasks]
