"""/v1/customers/{id}/consents, /v1/consents and /v1/contacts: thin adapters over the consent services."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from vault.access.caller import Caller
from vault.api.deps import provide_read_session, vault_of
from vault.bootstrap import Vault
from vault.consent.contacts import ContactQuery
from vault.consent.service import (
    ConsentChoice,
    ConsentEvent,
    ConsentStatus,
    DueConsent,
    Evidence,
    Receipt,
)
from vault.errors import BadRequestError

NDJSON = "application/x-ndjson"


class ConsentChoiceBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One decision: ``action`` (grant, refuse, withdraw, reconfirm) on ``purpose``."""

    purpose: str
    action: str
    channels: list[str] | None = None
    notice_version: str | None = None


class EvidenceBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Where the customer made the decision (stored encrypted)."""

    ip: str | None = None
    user_agent: str | None = None


class ConsentRequestBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/customers/{id}/consents."""

    consents: list[ConsentChoiceBody]
    source: str
    collected_at: datetime | None = None
    evidence: EvidenceBody | None = None


class ReceiptRead(msgspec.Struct, kw_only=True):
    """A signed receipt: ``jws`` is a compact JWS (EdDSA) verifiable with GET /v1/consents/receipt-key."""

    id: uuid.UUID
    customer_id: uuid.UUID
    issued_at: datetime
    kid: str
    jws: str

    @classmethod
    def from_domain(cls, r: Receipt) -> ReceiptRead:
        return cls(id=r.id, customer_id=r.customer_id, issued_at=r.issued_at, kid=r.key_id, jws=r.jws)


class ConsentEventRead(msgspec.Struct, kw_only=True):
    """One recorded decision (``evidence`` only for roles allowed to read it)."""

    id: uuid.UUID
    purpose: str
    channel: str | None
    kind: str
    notice_version: str | None
    notice_sha256: str | None
    source: str
    collected_by: str
    collected_by_role: str
    occurred_at: datetime
    recorded_at: datetime
    receipt_id: uuid.UUID | None
    evidence: dict[str, str] | None = None

    @classmethod
    def from_domain(cls, e: ConsentEvent) -> ConsentEventRead:
        return cls(id=e.id, purpose=e.purpose, channel=e.channel, kind=e.kind, notice_version=e.notice_version,
                   notice_sha256=e.notice_hash, source=e.source, collected_by=e.collected_by,
                   collected_by_role=e.collected_by_role, occurred_at=e.occurred_at, recorded_at=e.recorded_at,
                   receipt_id=e.receipt_id, evidence=e.evidence)


class ConsentStatusRead(msgspec.Struct, kw_only=True):
    """Current state of one purpose x channel; ``current`` says whether it is a valid consent now."""

    purpose: str
    channel: str | None
    status: str
    current: bool
    reason: str | None
    granted_at: datetime | None
    expires_at: datetime | None
    notice_version: str | None
    notice_sha256: str | None
    updated_at: datetime | None

    @classmethod
    def from_domain(cls, s: ConsentStatus) -> ConsentStatusRead:
        return cls(purpose=s.purpose, channel=s.channel, status=s.status, current=s.current, reason=s.reason,
                   granted_at=s.granted_at, expires_at=s.expires_at, notice_version=s.notice_version,
                   notice_sha256=s.notice_hash, updated_at=s.updated_at)


class ConsentRecorded(msgspec.Struct, kw_only=True):
    """Response of POST /v1/customers/{id}/consents."""

    customer_id: uuid.UUID
    events: list[ConsentEventRead]
    receipt: ReceiptRead | None
    state: list[ConsentStatusRead]


class ConsentStateRead(msgspec.Struct, kw_only=True):
    """Current consent state of a customer."""

    customer_id: uuid.UUID
    items: list[ConsentStatusRead]


class ConsentHistoryRead(msgspec.Struct, kw_only=True):
    """Every decision of a customer, oldest first."""

    customer_id: uuid.UUID
    items: list[ConsentEventRead]


class DueRead(msgspec.Struct, kw_only=True):
    """A grant that lapses soon."""

    customer_id: uuid.UUID
    purpose: str
    channel: str | None
    granted_at: datetime
    expires_at: datetime

    @classmethod
    def from_domain(cls, d: DueConsent) -> DueRead:
        return cls(customer_id=d.customer_id, purpose=d.purpose, channel=d.channel, granted_at=d.granted_at,
                   expires_at=d.expires_at)


class DuePage(msgspec.Struct, kw_only=True):
    """A page of due grants; pass ``next_cursor`` as ``cursor``."""

    items: list[DueRead]
    next_cursor: str | None


def _cursor(value: str | None) -> tuple[datetime, uuid.UUID, str, str] | None:
    if not value:
        return None
    try:
        ts, cid, purpose, channel = value.split("|")
        return datetime.fromisoformat(ts), uuid.UUID(cid), purpose, channel
    except ValueError:
        raise BadRequestError("cursor must be the next_cursor of a previous page") from None


async def record_consents(vault: Vault, customer_id: uuid.UUID, data: ConsentRequestBody,
                          caller: Caller) -> ConsentRecorded:
    """POST /v1/customers/{id}/consents: record the decisions in one write transaction; the signed receipt."""
    choices = [ConsentChoice(c.purpose, c.action, tuple(c.channels) if c.channels is not None else None,
                             c.notice_version) for c in data.consents]
    evidence = Evidence(data.evidence.ip, data.evidence.user_agent) if data.evidence else None
    async with vault.db.write() as session:  # not a generator dependency (see vault.api.customers.create_customer)
        result = await vault.consents(session).record(
            customer_id, choices, caller, source=data.source, collected_at=data.collected_at, evidence=evidence)
    return ConsentRecorded(
        customer_id=customer_id, events=[ConsentEventRead.from_domain(e) for e in result.events],
        receipt=ReceiptRead.from_domain(result.receipt) if result.receipt else None,
        state=[ConsentStatusRead.from_domain(s) for s in result.state])


class CustomerConsentController(Controller):
    """A customer's consents. Every operation names a ``purpose`` (e.g. service_delivery)."""

    path = "/v1/customers/{customer_id:uuid}/consents"
    tags = ["consents"]

    @post("/", operation_id="RecordConsents", status_code=201)
    async def record_consents(
        self, customer_id: FromPath[uuid.UUID], data: JSONBody[ConsentRequestBody], caller: NamedDependency[Caller],
        state: State,
        purpose: Annotated[str | None, QueryParameter()] = None,
    ) -> ConsentRecorded:
        """Grant, refuse, withdraw or reconfirm one or many purposes at once; returns a signed receipt."""
        del purpose
        return await record_consents(vault_of(state), customer_id, data, caller)

    @get("/", operation_id="GetConsentState", dependencies={"session": Provide(provide_read_session)})
    async def get_state(
        self, customer_id: FromPath[uuid.UUID], caller: NamedDependency[Caller], session: NamedDependency[AsyncSession],
        state: State,
        purpose: Annotated[str | None, QueryParameter()] = None,
    ) -> ConsentStateRead:
        """Current state of every consent purpose and channel (never_granted where nothing was recorded)."""
        del purpose
        items = await vault_of(state).consent_reads(session).state(customer_id, caller)
        return ConsentStateRead(customer_id=customer_id, items=[ConsentStatusRead.from_domain(s) for s in items])

    @get("/history", operation_id="GetConsentHistory", dependencies={"session": Provide(provide_read_session)})
    async def get_history(
        self, customer_id: FromPath[uuid.UUID], caller: NamedDependency[Caller], session: NamedDependency[AsyncSession],
        state: State,
        purpose: Annotated[str | None, QueryParameter()] = None,
        evidence: Annotated[bool, QueryParameter()] = False,
    ) -> ConsentHistoryRead:
        """Every decision ever recorded, oldest first; ``evidence=true`` decrypts IP and user agent
        (compliance officers, purpose legal_claims)."""
        del purpose
        items = await vault_of(state).consent_reads(session).history(customer_id, caller, with_evidence=evidence)
        return ConsentHistoryRead(customer_id=customer_id, items=[ConsentEventRead.from_domain(e) for e in items])


class ConsentController(Controller):
    """Receipts, the receipt-signing key and grants due for reconfirmation."""

    path = "/v1/consents"
    tags = ["consents"]

    @get("/receipt-key", operation_id="GetReceiptKey")
    async def receipt_key(self, caller: NamedDependency[Caller], state: State) -> dict[str, Any]:
        """The Ed25519 public key receipts are signed with (PEM and JWK), for offline verification."""
        del caller
        vault = vault_of(state)
        async with vault.db.read() as session:
            return vault.consent_reads(session).receipt_key()

    @get("/due", operation_id="ListConsentsDue", dependencies={"session": Provide(provide_read_session)})
    async def due(
        self, caller: NamedDependency[Caller], session: NamedDependency[AsyncSession], state: State,
        purpose: Annotated[str | None, QueryParameter()] = None,
        consent_purpose: Annotated[str | None, QueryParameter(max_length=60)] = None,
        within_days: Annotated[int, QueryParameter(ge=1, le=365)] = 30,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=5000)] = 500,
    ) -> DuePage:
        """Grants whose reconfirmation interval ends within ``within_days`` (default 30), soonest first."""
        del purpose
        items = await vault_of(state).consent_expiry(session).due(
            caller, within_days=within_days, purpose_id=consent_purpose, after=_cursor(cursor), limit=limit)
        last = items[-1] if len(items) == limit else None
        return DuePage(items=[DueRead.from_domain(d) for d in items], next_cursor=(
            f"{last.granted_at.isoformat()}|{last.customer_id}|{last.purpose}|{last.channel or ''}" if last else None))

    @get("/{event_id:uuid}/receipt", operation_id="GetConsentReceipt",
         dependencies={"session": Provide(provide_read_session)})
    async def receipt(
        self, event_id: FromPath[uuid.UUID], caller: NamedDependency[Caller], session: NamedDependency[AsyncSession],
        state: State,
        purpose: Annotated[str | None, QueryParameter()] = None,
    ) -> ReceiptRead:
        """The signed receipt of the request that recorded this consent event."""
        del purpose
        return ReceiptRead.from_domain(await vault_of(state).consent_reads(session).receipt(event_id, caller))


class ContactController(Controller):
    """Consented contact resolution, streamed as NDJSON."""

    path = "/v1/contacts"
    tags = ["contacts"]

    @get("/", operation_id="ResolveContacts", media_type=NDJSON)
    async def resolve(
        self, caller: NamedDependency[Caller], state: State,
        purpose: Annotated[str | None, QueryParameter()] = None,
        channel: Annotated[str | None, QueryParameter(max_length=16)] = None,
        at: Annotated[datetime | None, QueryParameter()] = None,
        customer_id: Annotated[list[uuid.UUID] | None, QueryParameter()] = None,
        segment: Annotated[str | None, QueryParameter(max_length=100)] = None,
        justification: Annotated[str | None, QueryParameter(max_length=500)] = None,
    ) -> Stream:
        """Customers with a current consent for ``purpose`` on ``channel`` at ``at`` (default now), one JSON
        object per line. ``X-Contact-Count`` gives the number audited before the first byte.

        ``segment=name@version`` keeps only members of that active version's latest snapshot; customers
        labelled ``blacklist`` or ``do_not_contact`` are then always left out (as for direct marketing).
        Above the volume caps (per request, per principal and day) a ``justification`` is required; it is
        audited."""
        del purpose
        vault = vault_of(state)
        resolver = vault.contacts()
        scope = None
        if segment is not None:
            _, scope = await vault.segments().contact_scope(segment, caller)
        plan = await resolver.plan(
            ContactQuery(channel, at, tuple(customer_id) if customer_id else None, scope=scope, scope_name=segment,
                         justification=justification),
            caller)
        return Stream(resolver.stream(plan), media_type=NDJSON,
                      headers={"X-Contact-Count": str(plan.count), "X-Audit-Seq": str(plan.audit_seq)})

