"""Reading consent: a customer's current state, the history of decisions (with evidence for roles allowed it),
a decision's signed receipt and the key receipts verify against.

Each read is audited durably before it is returned, so run these in a read transaction; the service works
on the session it is given and never opens one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.consent.errors import ConsentEventNotFoundError, ReceiptNotFoundError
from vault.consent.lookup import active_customer
from vault.consent.receipts import EVIDENCE_IP, EVIDENCE_UA, evidence_field, receipt_key
from vault.consent.repository import ConsentRepository
from vault.consent.rules import Kind, State, expires_at, utc, why_not
from vault.consent.views import ConsentEvent, ConsentStatus, Receipt
from vault.customers.records import customer_key
from vault.lib.clock import as_utc

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy import Row, RowMapping
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.consent.models import ConsentReceiptRow
    from vault.consent.service import ConsentDeps
    from vault.customers.models import CustomerRow
    from vault.policy.purposes import Purpose, PurposeCatalogue


class ConsentReadStore(Protocol):
    """What the reads need from storage (:class:`~vault.consent.repository.ConsentRepository`)."""

    async def customer(self, customer_id: uuid.UUID, *, lock: bool = False) -> CustomerRow | None:
        """One customer record."""
        ...

    async def states(self, customer_id: uuid.UUID, purposes: set[str] | None = None,
                     ) -> dict[tuple[str, str], State]:
        """The customer's current state per (purpose, channel)."""
        ...

    async def events_of(self, customer_id: uuid.UUID) -> Sequence[RowMapping]:
        """Every decision recorded for the customer, oldest first."""
        ...

    async def event_receipt(self, event_id: uuid.UUID) -> Row[uuid.UUID, uuid.UUID | None] | None:
        """(customer_id, receipt_id) of one event."""
        ...

    async def receipt(self, receipt_id: uuid.UUID) -> ConsentReceiptRow | None:
        """One stored receipt."""
        ...


def channel_out(channel: str) -> str | None:
    """A stored channel as shown: the purpose-wide channel ``""`` as None."""
    return channel or None


def status_of(purpose: Purpose, channel: str, state: State | None, at: datetime) -> ConsentStatus:
    """The state of one purpose x channel at ``at``, with why it does not allow processing (if it does not)."""
    reason = why_not(purpose, state, at)
    status = "never_granted" if state is None else (
        "expired" if state.status == Kind.GRANTED and reason is not None else state.status)
    return ConsentStatus(
        purpose.id, channel_out(channel), status, reason is None, reason.value if reason else None,
        state.granted_at if state else None,
        expires_at(purpose, state.granted_at) if state and state.status == Kind.GRANTED else None,
        state.notice_version if state else None, state.notice_hash if state else None,
        state.updated_at if state else None)


def statuses(purposes: PurposeCatalogue, states: dict[tuple[str, str], State], at: datetime) -> list[ConsentStatus]:
    """Every consent purpose x channel's state at ``at``."""
    return [status_of(p, ch, states.get((p.id, ch)), at)
            for p in purposes if p.is_consent for ch in p.consent_channels]


def event_view(e: Mapping[str, Any], evidence: dict[str, str] | None) -> ConsentEvent:
    """A stored (or just recorded) event as the use cases return it."""
    return ConsentEvent(
        e["id"], e["customer_id"], e["purpose"], channel_out(e["channel"]), e["kind"], e["notice_version"],
        e["notice_hash"], e["source"], e["actor_name"], e["actor_role"], as_utc(e["occurred_at"]),
        as_utc(e["recorded_at"]), e["receipt_id"], evidence)


class ConsentReads:
    """Consent reads on one session (the caller opens and ends the transaction)."""

    def __init__(self, session: AsyncSession, deps: ConsentDeps, *, repo: ConsentReadStore | None = None) -> None:
        self._d = deps
        self._repo: ConsentReadStore = repo if repo is not None else ConsentRepository(session)

    async def state(self, customer_id: uuid.UUID, caller: Caller, *, at: datetime | None = None,
                    ) -> list[ConsentStatus]:
        """Current state of every consent purpose x channel for a customer (audited before it is returned)."""
        purpose = (await self._d.guard.require(caller, perms.CONSENTS_READ, "consent.read",
                                               customer_id=customer_id)).id
        await active_customer(self._repo, customer_id)
        when = utc(at) if at else utc(self._d.clock())
        out = statuses(self._d.purposes, await self._repo.states(customer_id), when)
        await self._d.audit.record_durable(AuditEvent(
            "consent.read", Outcome.ALLOWED, caller.actor, purpose=purpose, customer_id=customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip))
        return out

    async def history(self, customer_id: uuid.UUID, caller: Caller, *, with_evidence: bool = False,
                      ) -> list[ConsentEvent]:
        """Every decision ever recorded for a customer, oldest first; evidence only for roles allowed it.

        Raises:
            CustomerNotFoundError, AccessDeniedError (audited).
        """
        purpose = (await self._d.guard.require(caller, perms.CONSENTS_READ, "consent.history",
                                               customer_id=customer_id)).id
        if with_evidence and not self._d.guard.may(caller, perms.CONSENT_EVIDENCE_READ, purpose):
            await self._d.guard.require(caller, perms.CONSENT_EVIDENCE_READ, "consent.history",
                                        customer_id=customer_id)
        customer = await active_customer(self._repo, customer_id)
        rows = await self._repo.events_of(customer_id)
        key = customer_key(self._d.keyring, customer) if with_evidence and customer.wrapped_dek else None
        out = []
        for r in rows:
            evidence = None
            if key is not None:
                evidence = {}
                if r["evidence_ip"] is not None:
                    evidence["ip"] = key.open(evidence_field(EVIDENCE_IP, r["id"]), r["evidence_ip"])
                if r["evidence_user_agent"] is not None:
                    evidence["user_agent"] = key.open(evidence_field(EVIDENCE_UA, r["id"]), r["evidence_user_agent"])
            out.append(event_view(dict(r), evidence))
        await self._d.audit.record_durable(AuditEvent(
            "consent.history", Outcome.ALLOWED, caller.actor, purpose=purpose, customer_id=customer_id,
            fields=("consent.evidence",) if with_evidence else (), request_id=caller.request_id,
            client_ip=caller.client_ip, detail=f"{len(out)} events"))
        return out

    async def receipt(self, event_id: uuid.UUID, caller: Caller) -> Receipt:
        """The signed receipt of the request that recorded ``event_id``.

        Raises:
            ConsentEventNotFoundError, ReceiptNotFoundError, AccessDeniedError (audited).
        """
        purpose = (await self._d.guard.require(caller, perms.CONSENTS_READ, "consent.receipt")).id
        row = await self._repo.event_receipt(event_id)
        if row is None:
            raise ConsentEventNotFoundError(f"consent event {event_id} not found")
        if row.receipt_id is None:
            raise ReceiptNotFoundError(
                f"consent event {event_id} has no receipt (imported or expiry events carry none)")
        rec = await self._repo.receipt(row.receipt_id)
        assert rec is not None
        await self._d.audit.record_durable(AuditEvent(
            "consent.receipt", Outcome.ALLOWED, caller.actor, purpose=purpose, customer_id=row.customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip, detail=f"receipt {rec.id}"))
        return Receipt(rec.id, rec.customer_id, as_utc(rec.issued_at), rec.key_id, rec.jws)

    def receipt_key(self) -> dict[str, Any]:
        """The receipt-signing public key (PEM and JWK): receipts verify offline against it."""
        return receipt_key(self._d.keyring.receipt_signer)
