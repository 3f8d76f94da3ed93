"""The data subject requests registry: open, list (overdue first), read and move requests along.

The registry holds no personal data (ids, kinds, dates, statuses, outcomes without PII). It works on
the session it is given (its SQL in :mod:`vault.rights.repository`); the caller commits. Acting on a
subject (:mod:`vault.rights.subject`, :mod:`vault.rights.erasure`) links the action to its request with
:func:`link_request` and closes it with :func:`close_request`.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.customers.errors import CustomerNotFoundError
from vault.lib.clock import as_utc
from vault.lib.ids import new_id
from vault.rights.deadlines import (
    OPEN,
    Jurisdiction,
    RequestKind,
    RequestStatus,
    due_date,
    extension_refusal,
    is_overdue,
)
from vault.rights.errors import InvalidRequestError, RequestNotFoundError, RequestStateError
from vault.rights.models import RightsRequestRow
from vault.rights.repository import RequestRepository

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.rights.repository import RecordStore, RequestStore

__all__ = ["ANSWERS", "RequestRegistry", "RightsRequest", "close_request", "link_request"]

Clock = Callable[[], datetime]
CLOCK_SKEW = timedelta(minutes=5)
# Which request kinds each action answers.
ANSWERS = {
    "export": (RequestKind.ACCESS, RequestKind.PORTABILITY),
    "rectify": (RequestKind.RECTIFICATION,),
    "erase": (RequestKind.ERASURE,),
    "restrict": (RequestKind.RESTRICTION,),
    "object": (RequestKind.OBJECTION,),
}


@dataclass(frozen=True, slots=True)
class RightsRequest:
    """A data subject request as the registry shows it."""

    id: uuid.UUID
    kind: str
    customer_id: uuid.UUID
    jurisdiction: str
    received_at: datetime
    due_at: datetime
    extended: bool
    status: str
    overdue: bool
    channel: str | None
    handler: str | None
    outcome: str | None
    created_at: datetime
    completed_at: datetime | None


def _view(row: RightsRequestRow, now: datetime) -> RightsRequest:
    return RightsRequest(
        row.id, row.kind, row.customer_id, row.jurisdiction, as_utc(row.received_at), as_utc(row.due_at),
        row.extended, row.status, is_overdue(row.status, row.due_at, now), row.channel, row.handler_name,
        row.outcome, as_utc(row.created_at), as_utc(row.completed_at) if row.completed_at else None)



class RequestRegistry:
    """The requests registry on one session (the caller commits)."""

    def __init__(self, session: AsyncSession, guard: Guard, audit: AuditLog, clock: Clock, *,
                 repo: RequestStore | None = None) -> None:
        self._session = session
        self._repo = repo if repo is not None else RequestRepository(session)
        self._guard = guard
        self._audit = audit
        self._clock = clock

    def _now(self) -> datetime:
        return as_utc(self._clock())

    async def open(self, kind: str, customer_id: uuid.UUID, jurisdiction: str, caller: Caller, *,
                           received_at: datetime | None = None, channel: str | None = None) -> RightsRequest:
        """Register a request; its due date follows from the jurisdiction and the received date.

        Raises:
            InvalidRequestError, CustomerNotFoundError, AccessDeniedError.
        """
        await self._guard.require_any_purpose(caller, perms.REQUESTS_WRITE, "rights.request.open",
                                                customer_id=customer_id)
        try:
            k, j = RequestKind(kind), Jurisdiction(jurisdiction)
        except ValueError:
            raise InvalidRequestError(
                f"kind must be one of {', '.join(RequestKind)} and jurisdiction one of {', '.join(Jurisdiction)}",
                valid={"kind": list(RequestKind), "jurisdiction": list(Jurisdiction)}) from None
        now = self._now()
        received = as_utc(received_at) if received_at else now
        if received > now + CLOCK_SKEW:
            raise InvalidRequestError("received_at lies in the future", field="received_at")
        if channel is not None and (not channel or len(channel) > 20):
            raise InvalidRequestError("channel must be 1-20 characters", field="channel")
        if not await self._repo.customer_exists(customer_id):
            raise CustomerNotFoundError(f"customer {customer_id} not found")
        row = RightsRequestRow(
            id=new_id(), kind=k.value, customer_id=customer_id, jurisdiction=j.value, received_at=received,
            due_at=due_date(j, received), extended=False, status=RequestStatus.RECEIVED.value, channel=channel,
            handler_id=caller.principal.id if caller.principal else None, handler_name=caller.actor.name,
            created_at=now, updated_at=now)
        await self._repo.add(row)
        await self._audit.record(self._session, AuditEvent(
            "rights.request.open", Outcome.ALLOWED, caller.actor, customer_id=customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"request {row.id} {k.value} ({j.value}) due {row.due_at.date().isoformat()}"))
        return _view(row, now)

    async def list(self, caller: Caller, *, status: str | None = None, customer_id: uuid.UUID | None = None,
                            limit: int = 100, offset: int = 0) -> builtins.list[RightsRequest]:
        """Requests, overdue ones first, then by due date (soonest first), then closed ones (audited durably:
        run it in a read transaction)."""
        await self._guard.require_any_purpose(caller, perms.REQUESTS_READ, "rights.request.list")
        now = self._now()
        if status is not None and status not in ("open", "overdue") and status not in list(RequestStatus):
            raise InvalidRequestError(f"status must be open, overdue or one of {', '.join(RequestStatus)}",
                                      field="status")
        rows = await self._repo.page(now=now, status=status, customer_id=customer_id, limit=limit, offset=offset)
        await self._audit.record_durable(AuditEvent(
            "rights.request.list", Outcome.ALLOWED, caller.actor, request_id=caller.request_id,
            client_ip=caller.client_ip, detail=f"{len(rows)} requests"))
        return [_view(r, now) for r in rows]

    async def get(self, request_id: uuid.UUID, caller: Caller) -> RightsRequest:
        """One request."""
        await self._guard.require_any_purpose(caller, perms.REQUESTS_READ, "rights.request.read")
        row = await self._repo.get(request_id)
        if row is None:
            raise RequestNotFoundError(f"request {request_id} not found")
        return _view(row, self._now())

    async def update(self, request_id: uuid.UUID, caller: Caller, *, status: str | None = None,
                     outcome: str | None = None, extend: bool = False,
                     extension_reason: str | None = None) -> RightsRequest:
        """Move a request along (received -> in_progress -> completed | rejected), record its outcome,
        or extend a GDPR deadline by two months (Art. 12(3)): once, within the first month after
        receipt, with a reason (``complexity`` or ``number_of_requests``).

        Raises:
            RequestNotFoundError, InvalidRequestError, RequestStateError, AccessDeniedError.
        """
        await self._guard.require_any_purpose(caller, perms.REQUESTS_WRITE, "rights.request.update")
        if outcome is not None and len(outcome) > 500:
            raise InvalidRequestError("outcome must be at most 500 characters (no personal data)", field="outcome")
        now = self._now()
        row = await self._repo.get(request_id)
        if row is None:
            raise RequestNotFoundError(f"request {request_id} not found")
        if row.status not in OPEN:
            raise RequestStateError(f"request {request_id} is {row.status}; closed requests cannot change")
        if extend:
            refusal = extension_refusal(row.jurisdiction, row.received_at, now, extended=row.extended,
                                        reason=extension_reason)
            if refusal is not None:
                raise RequestStateError(refusal)
            row.extended = True
            row.extension_reason = extension_reason
            row.due_at = due_date(Jurisdiction.GDPR, row.received_at, extended=True)
        if status is not None:
            if status not in list(RequestStatus) or status == RequestStatus.RECEIVED:
                raise InvalidRequestError("status must be in_progress, completed or rejected", field="status")
            row.status = status
            if status in (RequestStatus.COMPLETED, RequestStatus.REJECTED):
                row.completed_at = now
        if outcome is not None:
            row.outcome = outcome
        row.handler_id = caller.principal.id if caller.principal else None
        row.handler_name = caller.actor.name
        row.updated_at = now
        await self._audit.record(self._session, AuditEvent(
            "rights.request.update", Outcome.ALLOWED, caller.actor, customer_id=row.customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"request {row.id}: status {row.status}" + (", extended" if extend else "")))
        return _view(row, now)


async def link_request(store: RecordStore, request_id: uuid.UUID | None, customer_id: uuid.UUID,
                       action: str) -> RightsRequestRow | None:
    """The open request ``request_id`` of this customer that ``action`` answers (None without a request id).

    Raises:
        RequestNotFoundError, RequestStateError.
    """
    if request_id is None:
        return None
    row = await store.request(request_id)
    if row is None:
        raise RequestNotFoundError(f"request {request_id} not found")
    if row.customer_id != customer_id:
        raise RequestStateError(f"request {request_id} concerns another customer")
    if row.kind not in ANSWERS[action]:
        raise RequestStateError(f"request {request_id} is a {row.kind} request; {action} does not answer it")
    if row.status not in OPEN:
        raise RequestStateError(f"request {request_id} is already {row.status}")
    return row

def close_request(row: RightsRequestRow | None, caller: Caller, now: datetime, outcome: str) -> None:
    if row is None:
        return
    row.status, row.outcome, row.completed_at, row.updated_at = RequestStatus.COMPLETED.value, outcome, now, now
    row.handler_id = caller.principal.id if caller.principal else None
    row.handler_name = caller.actor.name
