"""Consent tables: the append-only event log, the state derived from it, and signed receipts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import DateTime, ForeignKey, Index, Integer, LargeBinary, String, Table, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vault.db.base import Base


class ConsentEventRow(Base):
    """One decision of a customer about one purpose x channel. Never updated or deleted (triggers refuse it).

    ``channel`` is ``""`` for purposes without a contact channel (analytics, sharing). The IP address
    and user agent of the collection are sealed under the customer's DEK, so erasure shreds them too.
    """

    __tablename__ = "consent_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # A foreign key on SQLite; on PostgreSQL statement-level triggers refuse the same rows (0011refs).
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(60))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    notice_version: Mapped[str | None] = mapped_column(String(40))
    notice_hash: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    evidence_ip: Mapped[bytes | None] = mapped_column(LargeBinary)
    evidence_user_agent: Mapped[bytes | None] = mapped_column(LargeBinary)
    evidence_key_version: Mapped[int | None] = mapped_column(Integer)
    receipt_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("consent_receipts.id"), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))


class ConsentStateRow(Base):
    """The current decision per customer x purpose x channel, updated in the transaction that adds its event.

    ``granted_at`` is the last grant or reconfirmation; a grant lapses ``reconfirm_days`` (purposes.yaml)
    after it, computed at query time so a changed interval applies to every stored consent.
    """

    __tablename__ = "consent_state"
    __table_args__ = (
        Index("ix_consent_state_resolve", "purpose", "channel", "status", "customer_id"),
        Index("ix_consent_state_granted_at", "purpose", "status", "granted_at"),
    )

    # A foreign key on SQLite; on PostgreSQL statement-level triggers refuse the same rows (0011refs).
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(60), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notice_version: Mapped[str | None] = mapped_column(String(40))
    notice_hash: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConsentReceiptRow(Base):
    """A signed receipt (compact JWS, Ed25519) for one consent request. Never updated or deleted."""

    __tablename__ = "consent_receipts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    key_id: Mapped[str] = mapped_column(String(32))
    jws: Mapped[str] = mapped_column(Text)


# The tables themselves, for Core bulk inserts (no per-row ORM overhead).
consent_events_table = cast(Table, ConsentEventRow.__table__)
consent_state_table = cast(Table, ConsentStateRow.__table__)


class PublishedNoticeRow(Base):
    """The disclosure hash of every notice version the vault has run with (never updated).

    A published version must not change: consents given under it point at it. Start-up
    refuses when a version's canonical disclosure hashes differently from its first record.
    """

    __tablename__ = "consent_notices"

    purpose: Mapped[str] = mapped_column(String(60), primary_key=True)
    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConsentNotificationRow(Base):
    """A notice the application sent about a customer's consent (never updated).

    ``reconfirmation``: the periodic notice of the consent status (ICN Act 50(8), every 2 years);
    ``result``: the notice of the result of a grant, refusal or withdrawal, due within 14 days of
    the decision (ICN Act 50(7)); ``event_id`` names that decision.
    """

    __tablename__ = "consent_notifications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(60))
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    request_id: Mapped[str | None] = mapped_column(String(64))
