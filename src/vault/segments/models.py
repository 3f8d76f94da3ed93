"""Segment tables: behaviour data (no PII: customer ids, amounts, codes), labels, definitions, snapshots."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from vault.db.base import Base

#: SQLite makes an INTEGER PRIMARY KEY the rowid (no separate key index); PostgreSQL gets a bigint.
RowId = BigInteger().with_variant(Integer(), "sqlite")


class TransactionRow(Base):
    """One purchase (or its return). ``kst_day`` is the Asia/Seoul calendar day as days since 1970-01-01.

    ``row_digest`` (BLAKE2b-128 of the normalized row) makes imports idempotent: the same row twice is
    stored once.
    """

    __tablename__ = "transactions"
    # Covering index for the per-customer feature aggregate (repository.FeatureQueries.behaviour).
    __table_args__ = (Index("ix_transactions_customer_day", "customer_id", "kst_day", "returned", "amount_krw"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kst_day: Mapped[int] = mapped_column(Integer)
    amount_krw: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(64))
    returned: Mapped[bool] = mapped_column(Boolean)
    row_digest: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)


class InteractionRow(Base):
    """A service contact: ticket, complaint, return, inquiry or satisfaction survey (codes only, no text)."""

    __tablename__ = "interactions"
    __table_args__ = (Index("ix_interactions_customer_day", "customer_id", "kst_day"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"))
    department: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kst_day: Mapped[int] = mapped_column(Integer)
    row_digest: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LabelRow(Base):
    """A department's label on a customer (``vip``, ``blacklist``, ...); cleared labels stay as history."""

    __tablename__ = "customer_labels"
    __table_args__ = (Index("ix_customer_labels_customer", "customer_id", "cleared_at"),
                      Index("ix_customer_labels_label", "label", "cleared_at"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(40))
    department: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str] = mapped_column(String(60))
    set_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cleared_by: Mapped[str | None] = mapped_column(String(100))
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SegmentVersionRow(Base):
    """One immutable version of a segment definition; only ``status`` and its timestamps ever change."""

    __tablename__ = "segment_versions"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_segment_versions_name_version"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    expression: Mapped[str] = mapped_column(Text)
    targeting: Mapped[bool] = mapped_column(Boolean)
    owner_department: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SegmentEventRow(Base):
    """A step in a version's life: created, approved, vetoed, activated, retired (who, role, why)."""

    __tablename__ = "segment_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("segment_versions.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(40))
    principal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SnapshotRow(Base):
    """An evaluation of a version at an as-of date: size and feature summary (aggregates only)."""

    __tablename__ = "segment_snapshots"
    __table_args__ = (Index("ix_segment_snapshots_version", "version_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("segment_versions.id"))
    as_of: Mapped[date] = mapped_column(Date)
    size: Mapped[int] = mapped_column(Integer)
    population: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SnapshotMemberRow(Base):
    """A member of a snapshot: the id plus the tier and quadrant it had then (for diffs)."""

    __tablename__ = "segment_snapshot_members"

    snapshot_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("segment_snapshots.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    tier: Mapped[str] = mapped_column(String(16))
    quadrant: Mapped[str] = mapped_column(String(24))


transactions_table = cast(Table, TransactionRow.__table__)
interactions_table = cast(Table, InteractionRow.__table__)
members_table = cast(Table, SnapshotMemberRow.__table__)
