"""Response shapes (msgspec Structs) and converters from domain objects."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from vault.lib.clock import as_utc

if TYPE_CHECKING:
    from vault.access.models import ApiKeyRow, PrincipalRow
    from vault.access.principals import IssuedKey
    from vault.audit.models import AuditEntryRow
    from vault.customers.service import CustomerView


class CustomerRead(msgspec.Struct, kw_only=True):
    """A customer as the caller may see it."""

    id: uuid.UUID
    status: str
    fields: dict[str, str]
    masked: list[str]
    stale: list[str]
    verified_at: dict[str, str]
    row_version: int
    created_at: datetime
    updated_at: datetime
    #: Every department's active labels (single customer view); filled on GET /v1/customers/{id}.
    labels: list[CustomerLabel] = msgspec.field(default_factory=list)

    @classmethod
    def from_view(cls, v: CustomerView, labels: list[CustomerLabel] | None = None) -> CustomerRead:
        return cls(id=v.id, status=v.status, fields=v.fields, masked=v.masked, stale=v.stale,
                   verified_at=v.verified_at, row_version=v.row_version, created_at=v.created_at,
                   updated_at=v.updated_at, labels=labels or [])


class CustomerLabel(msgspec.Struct, kw_only=True):
    """A department label as shown on the single customer view."""

    id: uuid.UUID
    label: str
    department: str
    reason_code: str
    set_by: str
    set_at: datetime


class CustomerList(msgspec.Struct, kw_only=True):
    """Lookup results."""

    items: list[CustomerRead]
    count: int


class PrincipalCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/principals."""

    name: str
    role: str
    kind: str = "service"
    password: str | None = None


class KeyIssued(msgspec.Struct, kw_only=True):
    """A new API key; ``api_key`` is shown only in this response."""

    id: uuid.UUID
    prefix: str
    api_key: str

    @classmethod
    def from_issued(cls, k: IssuedKey) -> KeyIssued:
        return cls(id=k.id, prefix=k.prefix, api_key=k.secret)


class PrincipalRead(msgspec.Struct, kw_only=True):
    """A principal (never secrets)."""

    id: uuid.UUID
    name: str
    kind: str
    role: str
    created_at: datetime
    disabled: bool
    status: str = "active"
    created_by: str | None = None
    approved_by: uuid.UUID | None = None
    keys: list[dict[str, Any]] | None = None
    api_key: KeyIssued | None = None

    @classmethod
    def from_row(cls, r: PrincipalRow, keys: list[ApiKeyRow] | None = None,
                 issued: IssuedKey | None = None) -> PrincipalRead:
        return cls(
            id=r.id, name=r.name, kind=r.kind, role=r.role, created_at=as_utc(r.created_at),
            disabled=r.disabled_at is not None, status=r.status, created_by=r.created_by,
            approved_by=r.approved_by,
            keys=None if keys is None else [
                {"prefix": k.prefix, "created_at": as_utc(k.created_at).isoformat(),
                 "revoked": k.revoked_at is not None, "issued_by": k.issued_by}
                for k in keys],
            api_key=KeyIssued.from_issued(issued) if issued else None,
        )


class AuditEntryRead(msgspec.Struct, kw_only=True):
    """One audit entry."""

    seq: int
    ts: datetime
    principal_id: uuid.UUID | None
    principal_name: str | None
    role: str | None
    action: str
    purpose: str | None
    outcome: str
    customer_id: uuid.UUID | None
    subject_count: int
    subjects_digest: str | None
    fields: list[str]
    request_id: str | None
    client_ip: str | None
    detail: str | None
    hash: str
    prev_hash: str

    @classmethod
    def from_row(cls, r: AuditEntryRow) -> AuditEntryRead:
        return cls(seq=r.seq, ts=as_utc(r.ts), principal_id=r.principal_id, principal_name=r.principal_name,
                   role=r.role,
                   action=r.action, purpose=r.purpose, outcome=r.outcome, customer_id=r.customer_id,
                   subject_count=r.subject_count, subjects_digest=r.subjects_digest,
                   fields=r.fields.split(",") if r.fields else [], request_id=r.request_id,
                   client_ip=r.client_ip, detail=r.detail, hash=r.hash, prev_hash=r.prev_hash)


class AuditPage(msgspec.Struct, kw_only=True):
    """A page of audit entries; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[AuditEntryRead]
    next_cursor: str | None
