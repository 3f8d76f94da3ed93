"""Consent notifications: the vault says who is due, the application sends, the vault records it.

- ``result`` (ICN Act 50(7)): within 14 days of a customer's grant, refusal, withdrawal or
  reconfirmation the customer is told the result (sender, date, what was decided).
  :meth:`ConsentNotifications.results_due` lists decisions with no result notice yet, with
  their deadline, overdue first.
- ``reconfirmation`` (ICN Act 50(8), Decree 62-3): every 2 years the customer is told what
  they consented to; ``GET /v1/consents/due`` lists the grants due, and the notice sent is
  recorded here.

Recording a notice is audited (``consent.notice_sent``); listing who is due is audited too (durably: run it
in a read transaction). Ids, purposes and dates only. The service works on the caller's session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, insert, select

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.consent.errors import ConsentEventNotFoundError, InvalidConsentError
from vault.consent.models import ConsentEventRow, ConsentNotificationRow
from vault.consent.rules import Kind, Source
from vault.lib.clock import as_utc, utcnow
from vault.lib.ids import new_id

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.policy.purposes import PurposeCatalogue

KINDS = ("result", "reconfirmation")
RESULT_WITHIN = timedelta(days=14)
_DECISIONS = (Kind.GRANTED.value, Kind.REFUSED.value, Kind.WITHDRAWN.value, Kind.RECONFIRMED.value)


@dataclass(frozen=True, slots=True)
class ResultDue:
    """A decision whose result notice has not been recorded yet."""

    event_id: uuid.UUID
    customer_id: uuid.UUID
    purpose: str
    decision: str
    decided_at: datetime
    due_at: datetime
    overdue: bool


class ConsentNotifications:
    """Records sent consent notices and lists result notices due, on one session (the caller commits)."""

    def __init__(self, session: AsyncSession, purposes: PurposeCatalogue, guard: Guard, audit: AuditLog) -> None:
        self._session = session
        self._purposes = purposes
        self._guard = guard
        self._audit = audit

    async def _require(self, caller: Caller, perm: perms.Permission, action: str,
                       customer_id: uuid.UUID | None = None) -> str:
        """The request's purpose, once the guard allows ``perm`` for it (a denial is audited durably)."""
        return (await self._guard.require(caller, perm, action, customer_id=customer_id)).id

    async def record_sent(self, customer_id: uuid.UUID, kind: str, purpose_id: str, caller: Caller, *,
                          sent_at: datetime | None = None, event_id: uuid.UUID | None = None) -> uuid.UUID:
        """Record that a ``result`` or ``reconfirmation`` notice about ``purpose_id`` was sent.

        Raises:
            InvalidConsentError: unknown kind or purpose, a result notice without its decision, a future time.
            ConsentEventNotFoundError: ``event_id`` is not a decision of this customer about that purpose.
        """
        purpose = await self._require(caller, perms.CONSENTS_WRITE, "consent.notice_sent", customer_id)
        now = utcnow()
        if kind not in KINDS:
            raise InvalidConsentError(f"kind must be one of {', '.join(KINDS)}", field="kind", valid=list(KINDS))
        target = self._purposes.get(purpose_id)
        if target is None or not target.is_consent:
            raise InvalidConsentError(f"{purpose_id!r} is not a consent purpose", field="purpose")
        sent = as_utc(sent_at) if sent_at is not None else now
        if sent > now + timedelta(minutes=5):
            raise InvalidConsentError("sent_at is in the future", field="sent_at")
        if kind == "result" and event_id is None:
            raise InvalidConsentError("a result notice names the decision it reports (event_id)", field="event_id")
        if event_id is not None:
            ev = await self._session.get(ConsentEventRow, event_id)
            if ev is None or ev.customer_id != customer_id or ev.purpose != purpose_id:
                raise ConsentEventNotFoundError(f"consent event {event_id} of customer {customer_id} "
                                                f"about {purpose_id!r} not found")
        nid = new_id()
        await self._session.execute(insert(ConsentNotificationRow), [{
            "id": nid, "customer_id": customer_id, "kind": kind, "purpose": purpose_id, "event_id": event_id,
            "sent_at": sent, "recorded_at": now,
            "actor_id": caller.principal.id if caller.principal else None, "request_id": caller.request_id}])
        await self._audit.record(self._session, AuditEvent(
            "consent.notice_sent", Outcome.ALLOWED, caller.actor, purpose=purpose, customer_id=customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"kind={kind} purpose={purpose_id} event={event_id or '-'} sent_at={sent.isoformat()}"))
        return nid

    async def results_due(self, caller: Caller, *, since_days: int = 30, limit: int = 1000) -> list[ResultDue]:
        """Decisions of the last ``since_days`` days with no result notice recorded, overdue first."""
        purpose = await self._require(caller, perms.CONSENTS_READ, "consent.results_due")
        now = utcnow()
        sent = select(ConsentNotificationRow.id).where(ConsentNotificationRow.event_id == ConsentEventRow.id,
                                                       ConsentNotificationRow.kind == "result")
        q = (select(ConsentEventRow.id, ConsentEventRow.customer_id, ConsentEventRow.purpose, ConsentEventRow.kind,
                    ConsentEventRow.occurred_at)
             .where(and_(ConsentEventRow.kind.in_(_DECISIONS), ConsentEventRow.source != Source.SYSTEM.value,
                         ConsentEventRow.recorded_at >= now - timedelta(days=since_days), ~sent.exists()))
             .order_by(ConsentEventRow.occurred_at, ConsentEventRow.id).limit(limit))
        rows = (await self._session.execute(q)).all()
        out = [ResultDue(eid, cid, pid, kind, as_utc(at), as_utc(at) + RESULT_WITHIN,
                         as_utc(at) + RESULT_WITHIN < now) for eid, cid, pid, kind, at in rows]
        await self._audit.record_durable(AuditEvent(
            "consent.results_due", Outcome.ALLOWED, caller.actor, purpose=purpose,
            subjects=tuple(dict.fromkeys(d.customer_id for d in out)), request_id=caller.request_id,
            client_ip=caller.client_ip, detail=f"{len(out)} result notices due"))
        return out
