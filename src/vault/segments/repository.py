"""The SQL of the segment services: versions and their events, snapshots and members, the feature table.

:class:`SegmentStore` is what the services (:mod:`vault.segments.versions`, :mod:`~vault.segments.evaluation`,
:mod:`~vault.segments.compare`, :mod:`~vault.segments.scopes`) need; :class:`SegmentRepository` runs it on a
SQLAlchemy session (tests use an in-memory store). Driver errors are translated here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import ColumnElement, and_, exists, func, insert, select
from sqlalchemy.exc import IntegrityError

from vault.consent.ledger import effective_clause
from vault.consent.models import ConsentStateRow
from vault.customers.models import CustomerRow
from vault.segments.errors import SegmentStateError
from vault.segments.features import BLOCKING_LABELS, WINDOW_DAYS
from vault.segments.models import (
    LabelRow,
    SegmentEventRow,
    SegmentVersionRow,
    SnapshotMemberRow,
    SnapshotRow,
    TransactionRow,
    members_table,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.policy.purposes import Purpose
    from vault.segments.features import FeatureEngine, FeatureTable

#: "the customer whose id is this column is a member of the snapshot" (contact resolution by segment).
ScopeClause = Callable[[Any], ColumnElement[bool]]
MEMBER_CHUNK = 20_000


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
        return await engine.compute(self._session, as_of, groups)


def member_clause(snapshot_id: uuid.UUID) -> ScopeClause:
    """A clause factory: "the customer whose id is ``key`` is a member of snapshot ``snapshot_id``"."""

    def clause(key: Any) -> ColumnElement[bool]:
        return exists(select(SnapshotMemberRow.customer_id).where(
            SnapshotMemberRow.snapshot_id == snapshot_id, SnapshotMemberRow.customer_id == key))
    return clause
