"""Rights tables: the requests registry and the rectification history (old values sealed)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vault.db.base import Base


class RightsRequestRow(Base):
    """One data subject request. Ids, dates, codes and a short outcome; never personal data."""

    __tablename__ = "rights_requests"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    jurisdiction: Mapped[str] = mapped_column(String(8))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    extension_reason: Mapped[str | None] = mapped_column(String(30), default=None)
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(20), default=None)
    handler_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    handler_name: Mapped[str | None] = mapped_column(String(100), default=None)
    outcome: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class FieldHistoryRow(Base):
    """A value replaced by a rectification, sealed under the customer's DEK (so erasure shreds it too)."""

    __tablename__ = "customer_field_history"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # None: the field was empty before
    dek_version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    request_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(40))


class ProvisionRow(Base):
    """One disclosure of a customer's data to a third party or abroad (PIPA 17/28-8, GDPR 15(1)(c)).

    Names of fields, the recipient (an organisation from purposes.yaml), the country and the
    transfer mechanism; never values.
    """

    __tablename__ = "provisions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    purpose: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    items: Mapped[str] = mapped_column(String(500))
    mechanism: Mapped[str] = mapped_column(String(40))
    legal_basis: Mapped[str] = mapped_column(String(40))
    notice_version: Mapped[str | None] = mapped_column(String(40), default=None)
    provided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    principal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)


class StatutoryArchiveRow(Base):
    """Fields kept only because a law requires it (statutes.yaml ``retention_days``), moved out of the
    customer record: sealed under this record's own key (KEK context ``archive:<id>``), readable only with
    ``archive:read``, destroyed once ``destroy_after`` passes. Field names, the statute and dates in clear;
    values only sealed."""

    __tablename__ = "statutory_archive"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    statute: Mapped[str] = mapped_column(String(60))
    fields: Mapped[str] = mapped_column(String(500))  # comma-separated field names
    kek_version: Mapped[str] = mapped_column(String(40))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    archived_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    destroy_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    reason: Mapped[str] = mapped_column(String(200))
