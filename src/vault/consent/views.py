"""What the consent use cases take and return (domain values; the API maps them to its schemas)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["ConsentChoice", "ConsentEvent", "ConsentStatus", "DueConsent", "Evidence", "Receipt", "RecordResult"]


@dataclass(frozen=True, slots=True)
class ConsentChoice:
    """One decision in a request: an action on a purpose, for some or all of its channels."""

    purpose: str
    action: str
    channels: tuple[str, ...] | None = None  # None: every channel of the purpose
    notice_version: str | None = None  # required for grant and reconfirm (provable consent)


@dataclass(frozen=True, slots=True)
class Evidence:
    """How the decision was captured (personal data: sealed under the customer's key)."""

    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One recorded decision."""

    id: uuid.UUID
    customer_id: uuid.UUID
    purpose: str
    channel: str | None
    kind: str
    notice_version: str | None
    notice_hash: str | None
    source: str
    collected_by: str
    collected_by_role: str
    occurred_at: datetime
    recorded_at: datetime
    receipt_id: uuid.UUID | None
    evidence: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ConsentStatus:
    """The current state of one purpose x channel for a customer."""

    purpose: str
    channel: str | None
    status: str  # granted | refused | withdrawn | expired | never_granted
    current: bool
    reason: str | None
    granted_at: datetime | None
    expires_at: datetime | None
    notice_version: str | None
    notice_hash: str | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class Receipt:
    """A signed consent receipt."""

    id: uuid.UUID
    customer_id: uuid.UUID
    issued_at: datetime
    key_id: str
    jws: str


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What recording a request did."""

    events: list[ConsentEvent]
    receipt: Receipt | None
    state: list[ConsentStatus] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DueConsent:
    """A grant that lapses soon (ids and dates only)."""

    customer_id: uuid.UUID
    purpose: str
    channel: str | None
    granted_at: datetime
    expires_at: datetime
