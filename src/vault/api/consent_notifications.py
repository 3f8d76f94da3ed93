"""/v1/customers/{id}/consents/notifications and /v1/consents/results-due (ICN Act 50(7)-(8))."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from vault.access.caller import Caller
from vault.api.deps import vault_of


class NotificationSent(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/customers/{id}/consents/notifications."""

    kind: Literal["result", "reconfirmation"]
    purpose: str
    event_id: uuid.UUID | None = None
    sent_at: datetime | None = None


class ConsentNotificationController(Controller):
    """Consent notices the application sent, recorded by the vault."""

    path = "/v1/customers/{customer_id:uuid}/consents/notifications"
    tags = ["consents"]

    @post("/", operation_id="RecordConsentNotification", status_code=201)
    async def record(self, customer_id: FromPath[uuid.UUID], data: JSONBody[NotificationSent],
                     caller: NamedDependency[Caller], state: State) -> dict[str, Any]:
        """Record a sent ``result`` notice (naming the decision's ``event_id``) or ``reconfirmation`` notice."""
        vault = vault_of(state)
        async with vault.db.write() as session:
            nid = await vault.consent_notifications(session).record_sent(
                customer_id, data.kind, data.purpose, caller, sent_at=data.sent_at, event_id=data.event_id)
        return {"id": str(nid)}


class ResultsDueController(Controller):
    """Decisions whose result notice (due within 14 days) has not been recorded."""

    path = "/v1/consents/results-due"
    tags = ["consents"]

    @get("/", operation_id="ListConsentResultsDue")
    async def results_due(self, caller: NamedDependency[Caller], state: State,
                          since_days: Annotated[int, QueryParameter(ge=1, le=365)] = 30) -> list[dict[str, Any]]:
        """Oldest first (overdue ones first): event, customer, purpose, decision, decided_at, due_at, overdue."""
        vault = vault_of(state)
        async with vault.db.read() as session:
            items = await vault.consent_notifications(session).results_due(caller, since_days=since_days)
        return [{"event_id": str(d.event_id), "customer_id": str(d.customer_id), "purpose": d.purpose,
                 "decision": d.decision, "decided_at": d.decided_at.isoformat(), "due_at": d.due_at.isoformat(),
                 "overdue": d.overdue} for d in items]
