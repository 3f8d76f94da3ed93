"""Audit tables: the hash-chained log, its subject side table and signed checkpoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vault.db.base import Base


class AuditEntryRow(Base):
    """One audited event. Holds ids, names of fields and purposes, never PII values."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    principal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    principal_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60), index=True)
    purpose: Mapped[str | None] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    subject_count: Mapped[int] = mapped_column(Integer, default=0)
    subjects_digest: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    key_prefix: Mapped[str | None] = mapped_column(String(32))
    key_issuer: Mapped[str | None] = mapped_column(String(140))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditSubjectRow(Base):
    """Customers touched by a bulk entry, for "who accessed my data"."""

    __tablename__ = "audit_subjects"

    # A foreign key on SQLite; on PostgreSQL a statement-level trigger refuses the same rows (0010subjects).
    seq: Mapped[int] = mapped_column(ForeignKey("audit_log.seq"), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, index=True)


class AuditCheckpointRow(Base):
    """An Ed25519 signature over the chain head at ``seq``."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    key_id: Mapped[str] = mapped_column(String(32))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
