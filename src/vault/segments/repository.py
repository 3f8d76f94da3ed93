"""The SQL of the segment services: versions and their events, snapshots and members, the feature table,
and the behaviour import's customer lookups and bulk inserts.

:class:`SegmentStore` is what the services (:mod:`vault.segments.versions`, :mod:`~vault.segments.evaluation`,
:mod:`~vault.segments.compare`, :mod:`~vault.segments.scopes`) need, :class:`BehaviourStore` what the import's
:class:`~vault.segments.behaviour.BehaviourBatches` needs; the repositories run them on a SQLAlchemy session
(tests use in-memory stores). Driver errors are translated here.
"""

from __future__ import annotations

import typing
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.exc import IntegrityError

from vault.consent.ledger import effective_clause
from vault.consent.models import ConsentStateRow
from vault.customers.models import CustomerIndexRow, CustomerRow
from vault.db.bulk import BulkValues, execute_rows
from vault.segments.errors import SegmentStateError
from vault.segments.features import BLOCKING_LABELS, WINDOW_DAYS
from vault.segments.models import (
    InteractionRow,
    LabelRow,
    SegmentEventRow,
    SegmentVersionRow,
    SnapshotMemberRow,
    SnapshotRow,
    TransactionRow,
    members_table,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.db.engine import Database
    from vault.policy.purposes import Purpose
    from vault.segments.behaviour import BehaviourKind
    from vault.segments.features import FeatureEngine, FeatureTable

#: "the customer whose id is this column is a member of the snapshot" (contact resolution by segment).
ScopeClause = Callable[[Any], ColumnElement[bool]]
MEMBER_CHUNK = 20_000
SQLITE_IMPORT_CACHE_KIB = 131_072
REF_CHUNK = 500


class SegmentStore(Protocol):
    """Where segment versions, their events and snapshots live, and where features are computed from."""

    async def latest_version(self, name: str) -> int | None:
        """The highest version number of ``name``, None for a new name."""
        ...

    async def add_version(self, row: SegmentVersionRow) -> None:
        """Insert a new version (flushed).

        Raises:
            SegmentStateError: ``name@version`` exists already (a concurrent create won).
        """
        ...

    async def add_event(self, row: SegmentEventRow) -> None:
        """Insert a lifecycle event (flushed)."""
        ...

    async def version(self, name: str, version: int) -> SegmentVersionRow | None:
        """One version, its status changes tracked by the transaction."""
        ...

    async def version_by_id(self, version_id: uuid.UUID) -> SegmentVersionRow | None:
        """One version by its id."""
        ...

    async def versions(self, name: str | None) -> list[SegmentVersionRow]:
        """Every version (of ``name``), by name, newest version first."""
        ...

    async def events(self, version_id: uuid.UUID) -> list[SegmentEventRow]:
        """A version's events, oldest first."""
        ...

    async def set_status(self, row: SegmentVersionRow, status: str, at: datetime) -> None:
        """Move a version to ``status`` (flushed)."""
        ...

    async def add_snapshot(self, row: SnapshotRow, members: Sequence[Mapping[str, Any]]) -> None:
        """Insert a snapshot and its member rows (``snapshot_id``, ``customer_id``, ``tier``, ``quadrant``)."""
        ...

    async def snapshots(self, version_id: uuid.UUID) -> list[SnapshotRow]:
        """A version's snapshots, newest first."""
        ...

    async def latest_snapshot(self, version_id: uuid.UUID, as_of: date | None) -> SnapshotRow | None:
        """The newest snapshot (latest as-of date, then latest created) of a version, at ``as_of`` if given."""
        ...

    async def snapshot(self, snapshot_id: uuid.UUID) -> SnapshotRow | None:
        """One snapshot."""
        ...

    async def members(self, snapshot_id: uuid.UUID) -> dict[uuid.UUID, tuple[str, str]]:
        """A snapshot's members: customer id -> (tier, quadrant) as stored."""
        ...

    async def blocked_members(self, snapshot_id: uuid.UUID, owner_department: str) -> list[tuple[uuid.UUID, str, str]]:
        """(customer id, label, department) of members with a current blocking label (blacklist,
        do_not_contact) set by a department other than ``owner_department``."""
        ...

    async def analytics_members(self, snapshot_id: uuid.UUID, analytics: Purpose, now: datetime) -> list[uuid.UUID]:
        """Members not erased nor restricted with a current basis for ``analytics`` at ``now``."""
        ...

    async def category_counts(self, day: int) -> list[tuple[uuid.UUID, int]]:
        """(customer id, distinct categories of purchases not returned) in the feature window ending ``day``."""
        ...

    async def features(self, engine: FeatureEngine, as_of: date, groups: Iterable[str]) -> FeatureTable:
        """The feature table of every customer not erased, as of ``as_of``, with ``groups``."""
        ...


class SegmentRepository:
    """:class:`SegmentStore` on a SQLAlchemy session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def latest_version(self, name: str) -> int | None:
        """The highest version number of ``name``."""
        return await self._session.scalar(select(func.max(SegmentVersionRow.version))
                                          .where(SegmentVersionRow.name == name))

    async def add_version(self, row: SegmentVersionRow) -> None:
        """Insert a new version (see :class:`SegmentStore`)."""
        self._session.add(row)
        try:
            await self._session.flush()
        except IntegrityError as exc:
            raise SegmentStateError(f"{row.name}@{row.version} was created at the same time; try again",
                                    segment=f"{row.name}@{row.version}") from exc

    async def add_event(self, row: SegmentEventRow) -> None:
        """Insert a lifecycle event."""
        self._session.add(row)
        await self._session.flush()

    async def version(self, name: str, version: int) -> SegmentVersionRow | None:
        """One version."""
        return await self._session.scalar(select(SegmentVersionRow).where(
            SegmentVersionRow.name == name, SegmentVersionRow.version == version))

    async def version_by_id(self, version_id: uuid.UUID) -> SegmentVersionRow | None:
        """One version by id."""
        return await self._session.get(SegmentVersionRow, version_id)

    async def versions(self, name: str | None) -> list[SegmentVersionRow]:
        """Every version (of ``name``), newest version first per name."""
        q = select(SegmentVersionRow)
        if name is not None:
            q = q.where(SegmentVersionRow.name == name)
        return list((await self._session.scalars(q.order_by(SegmentVersionRow.name,
                                                            SegmentVersionRow.version.desc()))).all())

    async def events(self, version_id: uuid.UUID) -> list[SegmentEventRow]:
        """A version's events, oldest first."""
        return list((await self._session.scalars(select(SegmentEventRow).where(SegmentEventRow.version_id == version_id)
                                                 .order_by(SegmentEventRow.at, SegmentEventRow.id))).all())

    async def set_status(self, row: SegmentVersionRow, status: str, at: datetime) -> None:
        """Move a version to ``status``."""
        row.status = status
        row.status_at = at
        await self._session.flush()

    async def add_snapshot(self, row: SnapshotRow, members: Sequence[Mapping[str, Any]]) -> None:
        """Insert a snapshot, then its members in statements of 20,000 rows."""
        self._session.add(row)
        await self._session.flush()
        for i in range(0, len(members), MEMBER_CHUNK):
            await self._session.execute(insert(members_table), list(members[i:i + MEMBER_CHUNK]))

    async def snapshots(self, version_id: uuid.UUID) -> list[SnapshotRow]:
        """A version's snapshots, newest first."""
        return list((await self._session.scalars(select(SnapshotRow).where(SnapshotRow.version_id == version_id)
                                                 .order_by(SnapshotRow.created_at.desc()))).all())

    async def latest_snapshot(self, version_id: uuid.UUID, as_of: date | None) -> SnapshotRow | None:
        """The newest snapshot of a version (at ``as_of``)."""
        q = select(SnapshotRow).where(SnapshotRow.version_id == version_id)
        if as_of is not None:
            q = q.where(SnapshotRow.as_of == as_of)
        return await self._session.scalar(q.order_by(SnapshotRow.as_of.desc(), SnapshotRow.created_at.desc(),
                                                     SnapshotRow.id).limit(1))

    async def snapshot(self, snapshot_id: uuid.UUID) -> SnapshotRow | None:
        """One snapshot."""
        return await self._session.get(SnapshotRow, snapshot_id)

    async def members(self, snapshot_id: uuid.UUID) -> dict[uuid.UUID, tuple[str, str]]:
        """A snapshot's members with their tier and quadrant."""
        rows = (await self._session.execute(select(SnapshotMemberRow.customer_id, SnapshotMemberRow.tier,
                                                   SnapshotMemberRow.quadrant)
                                            .where(SnapshotMemberRow.snapshot_id == snapshot_id))).all()
        return {cid: (tier, quadrant) for cid, tier, quadrant in rows}

    async def blocked_members(self, snapshot_id: uuid.UUID, owner_department: str) -> list[tuple[uuid.UUID, str, str]]:
        """Members blocked by another department (see :class:`SegmentStore`)."""
        q = (select(LabelRow.customer_id, LabelRow.label, LabelRow.department)
             .join(SnapshotMemberRow, and_(SnapshotMemberRow.customer_id == LabelRow.customer_id,
                                           SnapshotMemberRow.snapshot_id == snapshot_id))
             .where(LabelRow.label.in_(BLOCKING_LABELS), LabelRow.cleared_at.is_(None),
                    LabelRow.department != owner_department))
        return [(c, label, dept) for c, label, dept in (await self._session.execute(q)).all()]

    async def analytics_members(self, snapshot_id: uuid.UUID, analytics: Purpose, now: datetime) -> list[uuid.UUID]:
        """Members with a current analytics basis, not erased nor restricted."""
        q = (select(SnapshotMemberRow.customer_id)
             .join(CustomerRow, CustomerRow.id == SnapshotMemberRow.customer_id)
             .where(SnapshotMemberRow.snapshot_id == snapshot_id, CustomerRow.erased_at.is_(None),
                    CustomerRow.restricted_at.is_(None),
                    exists(select(ConsentStateRow.customer_id).where(
                        ConsentStateRow.customer_id == SnapshotMemberRow.customer_id,
                        effective_clause(analytics, now))))
             .order_by(SnapshotMemberRow.customer_id))
        return list((await self._session.scalars(q)).all())

    async def category_counts(self, day: int) -> list[tuple[uuid.UUID, int]]:
        """Distinct categories bought (not returned) per customer in the window ending ``day``."""
        t = TransactionRow
        rows = (await self._session.execute(
            select(t.customer_id, func.count(func.distinct(t.category)))
            .where(t.kst_day <= day, t.kst_day >= day - (WINDOW_DAYS - 1), t.returned.is_(False))
            .group_by(t.customer_id))).all()
        return [(c, int(n)) for c, n in rows]

    async def features(self, engine: FeatureEngine, as_of: date, groups: Iterable[str]) -> FeatureTable:
        """The feature table (see :meth:`FeatureEngine.compute`)."""
        return await engine.compute(FeatureQueries(self._session), as_of, groups)


def member_clause(snapshot_id: uuid.UUID) -> ScopeClause:
    """A clause factory: "the customer whose id is ``key`` is a member of snapshot ``snapshot_id``"."""

    def clause(key: Any) -> ColumnElement[bool]:
        return exists(select(SnapshotMemberRow.customer_id).where(
            SnapshotMemberRow.snapshot_id == snapshot_id, SnapshotMemberRow.customer_id == key))
    return clause


# -- labels and interactions ----------------------------------------------------------------------------


class LabelStore(Protocol):
    """Where department labels and single interactions live."""

    async def customer_exists(self, customer_id: uuid.UUID) -> bool:
        """Whether a customer not erased has this id."""
        ...

    async def held_label(self, customer_id: uuid.UUID, label: str, department: str) -> uuid.UUID | None:
        """The id of the department's active ``label`` on the customer, if any."""
        ...

    async def active_label(self, customer_id: uuid.UUID, label_id: uuid.UUID) -> LabelRow | None:
        """One active label of the customer, its changes tracked by the transaction."""
        ...

    async def add_label(self, row: LabelRow) -> None:
        """Insert a label (flushed)."""
        ...

    async def clear_label(self, row: LabelRow, by: str, at: datetime) -> None:
        """Mark a label cleared (flushed); the row stays as history."""
        ...

    async def labels(self, customer_id: uuid.UUID, *, history: bool) -> Sequence[LabelRow]:
        """The customer's labels (active ones, or all), by when they were set."""
        ...

    async def interaction(self, digest: bytes) -> InteractionRow | None:
        """The interaction with this content digest, if stored."""
        ...

    async def add_interaction(self, row: InteractionRow) -> None:
        """Insert an interaction (flushed).

        Raises:
            SegmentStateError: the same interaction was stored at the same time.
        """
        ...


# Built once: the single customer view reuses the statement and its compiled form.
_LABELS = typing.cast(Table, LabelRow.__table__)
_ACTIVE = select(_LABELS).where(_LABELS.c.customer_id == bindparam("cid"), _LABELS.c.cleared_at.is_(None)).order_by(
    _LABELS.c.set_at, _LABELS.c.id)


class LabelRepository:
    """:class:`LabelStore` on a SQLAlchemy session; with ``db``, active labels are read outside the session
    (the single customer view's fast path: one cached statement, no ORM objects)."""

    def __init__(self, session: AsyncSession, db: Database | None = None) -> None:
        self._session = session
        self._db = db

    async def customer_exists(self, customer_id: uuid.UUID) -> bool:
        """Whether a customer not erased has this id."""
        return await self._session.scalar(select(CustomerRow.id).where(
            CustomerRow.id == customer_id, CustomerRow.erased_at.is_(None))) is not None

    async def held_label(self, customer_id: uuid.UUID, label: str, department: str) -> uuid.UUID | None:
        """The department's active ``label`` on the customer."""
        return await self._session.scalar(select(LabelRow.id).where(
            LabelRow.customer_id == customer_id, LabelRow.label == label, LabelRow.department == department,
            LabelRow.cleared_at.is_(None)))

    async def active_label(self, customer_id: uuid.UUID, label_id: uuid.UUID) -> LabelRow | None:
        """One active label of the customer."""
        return await self._session.scalar(select(LabelRow).where(
            LabelRow.id == label_id, LabelRow.customer_id == customer_id, LabelRow.cleared_at.is_(None)))

    async def add_label(self, row: LabelRow) -> None:
        """Insert a label."""
        self._session.add(row)
        await self._session.flush()

    async def clear_label(self, row: LabelRow, by: str, at: datetime) -> None:
        """Mark a label cleared."""
        row.cleared_at = at
        row.cleared_by = by
        await self._session.flush()

    async def labels(self, customer_id: uuid.UUID, *, history: bool) -> Sequence[LabelRow]:
        """The customer's labels, by when they were set."""
        if not history and self._db is not None:
            return [typing.cast("LabelRow", r) for r in await self._db.fetch_all(_ACTIVE, {"cid": customer_id})]
        q = select(LabelRow).where(LabelRow.customer_id == customer_id)
        if not history:
            q = q.where(LabelRow.cleared_at.is_(None))
        return (await self._session.scalars(q.order_by(LabelRow.set_at, LabelRow.id))).all()

    async def interaction(self, digest: bytes) -> InteractionRow | None:
        """The interaction with this digest."""
        return await self._session.scalar(select(InteractionRow).where(InteractionRow.row_digest == digest))

    async def add_interaction(self, row: InteractionRow) -> None:
        """Insert an interaction (see :class:`LabelStore`)."""
        self._session.add(row)
        try:
            await self._session.flush()
        except IntegrityError as exc:
            raise SegmentStateError("the same interaction was recorded at the same time") from exc


def not_blocked(key: Any) -> ColumnElement[bool]:
    """SQL: the customer ``key`` carries no active ``blacklist`` / ``do_not_contact`` label."""
    return ~exists(select(LabelRow.id).where(
        LabelRow.customer_id == key, LabelRow.label.in_(BLOCKING_LABELS), LabelRow.cleared_at.is_(None)))


# -- features -------------------------------------------------------------------------------------------


class FeatureSource(Protocol):
    """The per-customer rows :class:`~vault.segments.features.FeatureEngine` builds features from; customer ids
    are 32 lower-case hex digits, days are ``kst_day`` numbers (days since 1970-01-01, Asia/Seoul)."""

    async def population(self) -> Sequence[Sequence[Any]]:
        """(id, restricted, objected to marketing) of every customer not erased."""
        ...

    async def behaviour(self, day: int) -> Sequence[Sequence[Any]]:
        """Per customer with transactions up to ``day``: purchases and their KRW in the 365-day window ending
        ``day``, transactions and returns in it, the last and first purchase day, purchases and KRW ever."""
        ...

    async def instants(self, day: int) -> Sequence[Sequence[Any]]:
        """(id, first, last purchase instant) up to ``day`` (SQLite gives the stored text)."""
        ...

    async def interactions(self, day: int) -> Sequence[Sequence[Any]]:
        """Per customer in the window ending ``day``: interactions, complaints, return contacts, the sum and
        count of satisfaction scores."""
        ...

    async def consenting(self, purpose: Purpose, now: datetime) -> list[str]:
        """Customers with a current consent (or other basis) for ``purpose`` at ``now``."""
        ...

    async def reachable(self) -> list[str]:
        """Customers with an email or phone on file (their blind index rows)."""
        ...

    async def labels(self, labels: Sequence[str]) -> Sequence[Sequence[Any]]:
        """(id, label) of the current labels among ``labels``, each pair once."""
        ...

    async def sealed_page(self, after: uuid.UUID | None, limit: int) -> Sequence[Sequence[Any]]:
        """Up to ``limit`` customers not erased after id ``after``, by id: (id, kek_version, wrapped_dek,
        dek_version, sealed)."""
        ...


def _hex(col: Any) -> Any:
    """The customer id as 32 hex digits on both databases."""
    return func.lower(func.replace(cast(col, String), "-", ""))


class FeatureQueries:
    """:class:`FeatureSource` on a SQLAlchemy session (a read transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _rows(self, q: Any) -> Sequence[Sequence[Any]]:
        return (await self._session.execute(q)).all()

    async def population(self) -> Sequence[Sequence[Any]]:
        """Customers not erased with their restriction and objection flags."""
        q = select(_hex(CustomerRow.id), CustomerRow.restricted_at.is_not(None),
                   CustomerRow.objected_marketing_at.is_not(None)).where(CustomerRow.erased_at.is_(None))
        return await self._rows(q)

    async def behaviour(self, day: int) -> Sequence[Sequence[Any]]:
        """One GROUP BY over transactions (see :class:`FeatureSource`)."""
        # Reads only columns of ix_transactions_customer_day (customer_id, kst_day, returned, amount_krw):
        # SQLite walks that covering index in customer order, with no table lookups and no sort.
        t = TransactionRow
        lo = day - (WINDOW_DAYS - 1)
        bought = ~t.returned
        in_window = t.kst_day >= lo

        def count(cond: Any) -> Any:
            return func.sum(case((cond, 1), else_=0))

        q = (select(
            _hex(t.customer_id),
            count(and_(in_window, bought)),
            func.sum(case((and_(in_window, bought), t.amount_krw), else_=0)),
            count(in_window),
            count(and_(in_window, t.returned)),
            func.max(case((bought, t.kst_day))),
            func.min(case((bought, t.kst_day))),
            count(bought),
            func.sum(case((bought, t.amount_krw), else_=0)),
        ).where(t.kst_day <= day).group_by(t.customer_id))
        return await self._rows(q)

    async def instants(self, day: int) -> Sequence[Sequence[Any]]:
        """First and last purchase instants."""
        t = TransactionRow
        q = (select(_hex(t.customer_id), func.min(t.occurred_at), func.max(t.occurred_at))
             .where(t.kst_day <= day, ~t.returned).group_by(t.customer_id))
        return await self._rows(q)

    async def interactions(self, day: int) -> Sequence[Sequence[Any]]:
        """Interaction counts and satisfaction in the window."""
        i = InteractionRow
        q = (select(
            _hex(i.customer_id), func.count(),
            func.sum(case((i.kind == "complaint", 1), else_=0)),
            func.sum(case((i.kind == "return", 1), else_=0)),
            func.sum(i.satisfaction), func.count(i.satisfaction),
        ).where(i.kst_day <= day, i.kst_day >= day - (WINDOW_DAYS - 1)).group_by(i.customer_id))
        return await self._rows(q)

    async def consenting(self, purpose: Purpose, now: datetime) -> list[str]:
        """Customers with a current basis for ``purpose``."""
        q = select(_hex(ConsentStateRow.customer_id)).where(effective_clause(purpose, now)).distinct()
        return list((await self._session.scalars(q)).all())

    async def reachable(self) -> list[str]:
        """Customers with an email or phone blind index."""
        q = (select(_hex(CustomerIndexRow.customer_id), literal_column("1"))
             .where(CustomerIndexRow.field.in_(("email", "phone"))).distinct())
        return [r[0] for r in await self._rows(q)]

    async def labels(self, labels: Sequence[str]) -> Sequence[Sequence[Any]]:
        """Current labels among ``labels``."""
        q = (select(_hex(LabelRow.customer_id), LabelRow.label)
             .where(LabelRow.cleared_at.is_(None), LabelRow.label.in_(labels)).distinct())
        return await self._rows(q)

    async def sealed_page(self, after: uuid.UUID | None, limit: int) -> Sequence[Sequence[Any]]:
        """One page of sealed customer records, by id."""
        cols = (CustomerRow.id, CustomerRow.kek_version, CustomerRow.wrapped_dek, CustomerRow.dek_version,
                CustomerRow.sealed)
        q = select(*cols).where(CustomerRow.erased_at.is_(None), *([CustomerRow.id > after] if after else []))
        return await self._rows(q.order_by(CustomerRow.id).limit(limit))


# -- behaviour imports ------------------------------------------------------------------------------------


class BulkDriver(BulkValues):
    """The driver's placeholders and value forms (the import converts rows once, to what the driver takes)."""

    def __init__(self, dialect: Dialect) -> None:
        super().__init__(dialect.name)
        self.paramstyle = dialect.paramstyle

    def placeholders(self, n: int) -> str:
        """``n`` positional placeholders in the driver's style."""
        if self.paramstyle == "qmark":
            return ", ".join("?" * n)
        if self.paramstyle == "numeric_dollar":
            return ", ".join(f"${i + 1}" for i in range(n))
        return ", ".join(["%s"] * n)


class BehaviourStore(Protocol):
    """Where the behaviour import finds customers and writes rows."""

    async def customer_ids(self, ref_digests: Sequence[bytes]) -> list[tuple[bytes, Any]]:
        """(customer_ref digest, id in the driver's form) of the customers not erased with these digests."""
        ...

    async def insert(self, kind: BehaviourKind, rows: list[tuple[Any, ...]]) -> int:
        """Insert converted rows, skipping those already stored (same digest); the number inserted."""
        ...


class BehaviourRepository:
    """:class:`BehaviourStore` on a SQLAlchemy session, through the driver (no ORM, no per-row binds)."""

    def __init__(self, session: AsyncSession, driver: BulkDriver) -> None:
        self._session = session
        self._driver = driver

    async def customer_ids(self, ref_digests: Sequence[bytes]) -> list[tuple[bytes, Any]]:
        """Customers by customer_ref digest, 500 digests per statement."""
        conn = await self._session.connection()
        found: list[tuple[bytes, Any]] = []
        for i in range(0, len(ref_digests), REF_CHUNK):
            chunk = tuple(ref_digests[i:i + REF_CHUNK])
            sql = (f"SELECT ref_digest, id FROM customers WHERE erased_at IS NULL AND ref_digest IN "
                   f"({self._driver.placeholders(len(chunk))})")
            rows: Any = (await conn.exec_driver_sql(sql, chunk)).all()
            found.extend((bytes(digest), cid) for digest, cid in rows)
        return found

    async def insert(self, kind: BehaviourKind, rows: list[tuple[Any, ...]]) -> int:
        """One executemany (SQLite) or one INSERT ... SELECT FROM unnest (PostgreSQL), ON CONFLICT DO NOTHING."""
        conn = await self._session.connection()
        if self._driver.sqlite:
            # Both indexes take keys in random order; a 128 MB page cache instead of SQLite's 2 MB keeps
            # their pages in memory across batches (1.6x faster at 1M rows, more beyond).
            await conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KIB}")
        return await execute_rows(conn, insert_sql(kind, self._driver), rows)


def insert_sql(kind: BehaviourKind, driver: BulkDriver) -> str:
    """The insert statement of ``kind`` for the driver."""
    head = f"INSERT INTO {kind.table} ({', '.join(kind.columns)}) "
    tail = " ON CONFLICT (row_digest) DO NOTHING"
    if driver.sqlite and kind.name == "transactions":
        # occurred_at in SQLAlchemy's SQLite DateTime format, built by SQLite from epoch seconds and microseconds
        return head + ("VALUES (?, strftime('%Y-%m-%d %H:%M:%S', ?, 'unixepoch') || printf('.%06d', ?), "
                       "?, ?, ?, ?, ?, ?)") + tail
    if driver.sqlite:
        return head + f"VALUES ({driver.placeholders(len(kind.columns))})" + tail
    marks = driver.placeholders(len(kind.columns)).split(", ")
    arrays = ", ".join(f"{m}::{t}[]" for m, t in zip(marks, kind.pg_types, strict=True))
    return head + f"SELECT * FROM unnest({arrays})" + tail
