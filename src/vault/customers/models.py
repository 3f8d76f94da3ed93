"""Customer tables: one row per customer with its sealed fields, plus blind indexes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, LargeBinary, String, Table, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vault.db.base import Base


class CustomerRow(Base):
    """A customer: PII only as ciphertexts in ``sealed`` (field -> blob), under a wrapped DEK."""

    __tablename__ = "customers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    ref_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    kek_version: Mapped[str | None] = mapped_column(String(40))
    wrapped_dek: Mapped[bytes | None] = mapped_column(LargeBinary)
    dek_version: Mapped[int] = mapped_column(Integer, default=1)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    field_meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active")
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Data subject rights (vault.rights): the blind-index key version the digests use, restriction of
    # processing (GDPR Art. 18 / PIPA Art. 37), objection to direct marketing (GDPR Art. 21), and the
    # request an erasure tombstone answers.
    index_version: Mapped[int] = mapped_column(Integer, default=1)
    restricted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    restriction_request_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    objected_marketing_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    erasure_request_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)


class CustomerIndexRow(Base):
    """Blind index entry: HMAC of a normalized searchable value -> customer."""

    __tablename__ = "customer_index"

    field: Mapped[str] = mapped_column(String(40), primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    # A foreign key on SQLite; on PostgreSQL statement-level triggers refuse the same rows (0011refs).
    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    key_version: Mapped[int] = mapped_column(Integer, default=1, index=True)


class QualityFlagRow(Base):
    """A data-quality flag on one field of a customer: the value was accepted but could not be fully
    verified (e.g. an RRN whose check digit does not match). Field name and code only, no value."""

    __tablename__ = "customer_quality_flags"

    # A foreign key on SQLite; on PostgreSQL statement-level triggers refuse the same rows (0011refs).
    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(60), primary_key=True, index=True)
    flagged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CustomerCohortRow(Base):
    """A customer's recorded membership of a statute's cohort (e.g. prize winners): the statute covers them.

    ``reference`` names the basis (a draw, an order number), never personal data."""

    __tablename__ = "customer_cohorts"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    cohort: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    reference: Mapped[str] = mapped_column(String(100))
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdempotencyRow(Base):
    """Replay record of a POST carrying an Idempotency-Key (no PII: ids and a digest)."""

    __tablename__ = "idempotency_keys"

    principal_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


#: Core tables, for bulk statements that skip the ORM unit of work.
customers_table = cast(Table, CustomerRow.__table__)
customer_index_table = cast(Table, CustomerIndexRow.__table__)
quality_flags_table = cast(Table, QualityFlagRow.__table__)
customer_cohorts_table = cast(Table, CustomerCohortRow.__table__)
