"""/v1/requests (data subject request registry) and /v1/subjects (acting on a data subject).

Acting on a subject reads or changes personal data, so it names purpose ``legal_claims``;
the registry holds no personal data and needs no purpose.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from vault.access.caller import Caller
from vault.api.deps import vault_of
from vault.lib.clock import as_utc
from vault.rights.requests import RightsRequest
from vault.rights.service import ErasureProposal, ErasureResult


class RequestCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/requests."""

    kind: str
    customer_id: uuid.UUID
    jurisdiction: str
    received_at: datetime | None = None
    channel: str | None = None


class RequestUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of PATCH /v1/requests/{id}."""

    status: str | None = None
    outcome: str | None = None
    extend: bool = False
    extension_reason: str | None = None
    """With ``extend``: ``complexity`` or ``number_of_requests`` (GDPR Art. 12(3))."""


class RequestRead(msgspec.Struct, kw_only=True):
    """A registered request (no personal data)."""

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

    @classmethod
    def from_domain(cls, r: RightsRequest) -> RequestRead:
        return cls(id=r.id, kind=r.kind, customer_id=r.customer_id, jurisdiction=r.jurisdiction,
                   received_at=r.received_at, due_at=r.due_at, extended=r.extended, status=r.status,
                   overdue=r.overdue, channel=r.channel, handler=r.handler, outcome=r.outcome,
                   created_at=r.created_at, completed_at=r.completed_at)


class RequestList(msgspec.Struct, kw_only=True):
    """Requests, overdue first."""

    items: list[RequestRead]
    count: int


class SubjectAction(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body naming the registered request an action answers."""

    request_id: uuid.UUID | None = None


class Rectification(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of PATCH /v1/subjects/{id}: corrected field values (null removes an optional field)."""

    fields: dict[str, str | None]
    request_id: uuid.UUID | None = None


class BulkErasure(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/subjects/erasures."""

    customer_ids: list[uuid.UUID]
    reason: str
    approves: int | None = None  # the proposal (audit seq) a second compliance officer approves


class RetainedRead(msgspec.Struct, kw_only=True):
    """Fields a statute requires keeping: moved to the statutory archive, not erased (GDPR 17(3)(b))."""

    customer_id: uuid.UUID
    statute: str
    citation: str
    fields: list[str]
    until: datetime


class ArchivedRead(msgspec.Struct, kw_only=True):
    """One statutory archive record of a customer, decrypted for an ``archive:read`` caller."""

    id: uuid.UUID
    statute: str
    fields: dict[str, str]
    archived_at: datetime
    destroy_after: datetime
    reason: str


class ErasureRead(msgspec.Struct, kw_only=True):
    """What an erasure did."""

    erased: int
    already_erased: int
    not_found: list[uuid.UUID]
    erased_at: datetime | None
    status: str = "erased"  # or "pending_approval": nothing erased yet, see ``proposal``; "partial": see retained
    proposal: int | None = None
    retained: list[RetainedRead] = msgspec.field(default_factory=list)
    held: list[uuid.UUID] = msgspec.field(default_factory=list)  # restricted: not erased (bulk only)

    @classmethod
    def from_domain(cls, r: ErasureResult) -> ErasureRead:
        return cls(erased=len(r.erased), already_erased=len(r.already_erased), not_found=r.not_found,
                   erased_at=as_utc(r.erased_at) if r.erased_at else None,
                   status="partial" if r.retained or r.held else "erased",
                   retained=[RetainedRead(customer_id=x.customer_id, statute=x.statute, citation=x.citation,
                                          fields=list(x.fields), until=as_utc(x.until)) for x in r.retained],
                   held=r.held)


class StateRead(msgspec.Struct, kw_only=True):
    """Restriction or objection state after the call."""

    customer_id: uuid.UUID
    since: datetime | None


class RequestController(Controller):
    """The registry of data subject requests (compliance officers)."""

    path = "/v1/requests"
    tags = ["rights"]

    @get("/", operation_id="ListRequests")
    async def list_requests(
        self, caller: NamedDependency[Caller], state: State,
        status: Annotated[str | None, QueryParameter(max_length=16,
                                       description="open, overdue, received, in_progress, completed, rejected")] = None,
        customer_id: FromQuery[uuid.UUID | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> RequestList:
        """Requests with overdue ones first, then by due date."""
        items = await vault_of(state).rights().list_requests(caller, status=status, customer_id=customer_id,
                                                             limit=limit, offset=offset)
        return RequestList(items=[RequestRead.from_domain(r) for r in items], count=len(items))

    @post("/", operation_id="OpenRequest", status_code=201)
    async def open_request(self, data: JSONBody[RequestCreate], caller: NamedDependency[Caller],
                           state: State) -> RequestRead:
        """Register a request; the due date follows from jurisdiction (gdpr: 1 month, pipa: 10 days)."""
        return RequestRead.from_domain(await vault_of(state).rights().open_request(
            data.kind, data.customer_id, data.jurisdiction, caller, received_at=data.received_at,
            channel=data.channel))

    @get("/{request_id:uuid}", operation_id="GetRequest")
    async def get_request(self, request_id: FromPath[uuid.UUID], caller: NamedDependency[Caller],
                          state: State) -> RequestRead:
        """One request."""
        return RequestRead.from_domain(await vault_of(state).rights().get_request(request_id, caller))

    @patch("/{request_id:uuid}", operation_id="UpdateRequest")
    async def update_request(self, request_id: FromPath[uuid.UUID], data: JSONBody[RequestUpdate],
                             caller: NamedDependency[Caller],
                             state: State) -> RequestRead:
        """Change status, record the outcome, or extend a GDPR deadline by two months (once, within the
        first month, with ``extension_reason``)."""
        return RequestRead.from_domain(await vault_of(state).rights().update_request(
            request_id, caller, status=data.status, outcome=data.outcome, extend=data.extend,
            extension_reason=data.extension_reason))


class SubjectController(Controller):
    """Export, rectify, erase, restrict and object for one data subject (purpose ``legal_claims``)."""

    path = "/v1/subjects"
    tags = ["rights"]

    @get("/{customer_id:uuid}/export", operation_id="ExportSubject")
    async def export_subject(
        self, customer_id: FromPath[uuid.UUID], caller: NamedDependency[Caller], state: State,
        request_id: FromQuery[uuid.UUID | None] = None, purpose: Annotated[str | None, QueryParameter()] = None,
    ) -> Response[dict[str, Any]]:
        """Everything stored about the customer as one JSON document (docs/export.schema.json)."""
        del purpose
        doc = await vault_of(state).rights().export(customer_id, caller, request_id=request_id)
        return Response(doc, headers={"Content-Disposition": f'attachment; filename="subject-{customer_id}.json"'})

    @get("/{customer_id:uuid}/archive", operation_id="ReadSubjectArchive")
    async def read_archive(
        self, customer_id: FromPath[uuid.UUID], caller: NamedDependency[Caller], state: State,
        purpose: Annotated[str | None, QueryParameter()] = None,
    ) -> list[ArchivedRead]:
        """What the statutory archive keeps of a customer only because a law requires it (``archive:read``:
        compliance officers for ``tax_reporting`` or ``legal_claims``; audited as ``archive.read``)."""
        del purpose
        vault = vault_of(state)
        async with vault.db.read() as session:
            records = await vault.archive(session).read(customer_id, caller)
        return [ArchivedRead(id=a.id, statute=a.statute, fields=a.fields, archived_at=a.archived_at,
                             destroy_after=a.destroy_after, reason=a.reason) for a in records]

    @patch("/{customer_id:uuid}", operation_id="RectifySubject")
    async def rectify_subject(self, customer_id: FromPath[uuid.UUID], data: JSONBody[Rectification],
                              caller: NamedDependency[Caller],
                              state: State) -> dict[str, list[str]]:
        """Correct fields; replaced values stay only as ciphertext under the customer's key."""
        changed = await vault_of(state).rights().rectify(customer_id, data.fields, caller, request_id=data.request_id)
        return {"changed": changed}

    @post("/{customer_id:uuid}/erasure", operation_id="EraseSubject", status_code=200)
    async def erase_subject(self, customer_id: FromPath[uuid.UUID], data: JSONBody[SubjectAction],
                            caller: NamedDependency[Caller],
                            state: State) -> ErasureRead:
        """Erase by crypto-shredding (journaled first); a tombstone and the audit entries remain."""
        return ErasureRead.from_domain(await vault_of(state).rights().erase(customer_id, caller,
                                                                            request_id=data.request_id))

    @post("/erasures", operation_id="EraseSubjects", status_code=200)
    async def erase_subjects(self, data: JSONBody[BulkErasure], caller: NamedDependency[Caller],
                             state: State) -> Response[ErasureRead]:
        """Erase many customers in one transaction (up to 100,000).

        Above the approval threshold (100) the first call answers 202 with a ``proposal``; a different
        compliance officer repeats it with ``approves`` set to that proposal to carry it out.
        """
        result = await vault_of(state).rights().erase_many(data.customer_ids, caller, reason=data.reason,
                                                           approves=data.approves)
        if isinstance(result, ErasureProposal):
            return Response(ErasureRead(erased=0, already_erased=0, not_found=[], erased_at=None,
                                        status="pending_approval", proposal=result.proposal), status_code=202)
        return Response(ErasureRead.from_domain(result), status_code=200)

    @post("/{customer_id:uuid}/restriction", operation_id="RestrictSubject", status_code=200)
    async def restrict_subject(self, customer_id: FromPath[uuid.UUID], data: JSONBody[SubjectAction],
                               caller: NamedDependency[Caller],
                               state: State) -> StateRead:
        """Restrict processing: data kept, every read denied except legal-claims handling."""
        since = await vault_of(state).rights().restrict(customer_id, caller, request_id=data.request_id)
        return StateRead(customer_id=customer_id, since=since)

    @delete("/{customer_id:uuid}/restriction", operation_id="LiftRestriction", status_code=200)
    async def lift_restriction(self, customer_id: FromPath[uuid.UUID], caller: NamedDependency[Caller],
                               state: State) -> StateRead:
        """Lift a restriction."""
        await vault_of(state).rights().restrict(customer_id, caller, lift=True)
        return StateRead(customer_id=customer_id, since=None)

    @post("/{customer_id:uuid}/objection", operation_id="ObjectForSubject", status_code=200)
    async def object_subject(self, customer_id: FromPath[uuid.UUID], data: JSONBody[SubjectAction],
                             caller: NamedDependency[Caller],
                             state: State) -> StateRead:
        """Record an objection to direct marketing: every marketing purpose stops at once."""
        since = await vault_of(state).rights().object(customer_id, caller, request_id=data.request_id)
        return StateRead(customer_id=customer_id, since=since)

    @delete("/{customer_id:uuid}/objection", operation_id="WithdrawObjection", status_code=200)
    async def withdraw_objection(self, customer_id: FromPath[uuid.UUID], caller: NamedDependency[Caller],
                                 state: State) -> StateRead:
        """Withdraw an objection (the customer's own decision)."""
        await vault_of(state).rights().object(customer_id, caller, withdraw=True)
        return StateRead(customer_id=customer_id, since=None)
