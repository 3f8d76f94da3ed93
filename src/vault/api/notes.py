"""/v1/customers/{id}/notes: free-text notes, stored sealed, shown redacted to most roles."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from vault.access.caller import Caller
from vault.api.deps import provide_read_session, provide_write_session, vault_of
from vault.api.pii import detector
from vault.customers.notes import NoteService, NoteView


class NoteCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/customers/{id}/notes."""

    text: str
    language: str | None = None


class NoteRead(msgspec.Struct, kw_only=True):
    """A note: ``redacted`` tells whether ``text`` is the redacted copy."""

    id: uuid.UUID
    customer_id: uuid.UUID
    created_at: datetime
    language: str | None
    text: str
    redacted: bool
    entity_counts: dict[str, int]

    @classmethod
    def from_view(cls, v: NoteView) -> NoteRead:
        return cls(id=v.id, customer_id=v.customer_id, created_at=v.created_at, language=v.language, text=v.text,
                   redacted=v.redacted, entity_counts=v.entity_counts)


class NoteController(Controller):
    """Customer notes; every call names a purpose."""

    path = "/v1/customers/{customer_id:uuid}/notes"
    tags = ["notes"]

    @post("/", operation_id="AddNote", status_code=201, dependencies={"session": Provide(provide_write_session)})
    async def add_note(self, customer_id: FromPath[uuid.UUID], data: JSONBody[NoteCreate],
                       caller: NamedDependency[Caller], session: NamedDependency[AsyncSession],
                       state: State, purpose: Annotated[str | None, QueryParameter()] = None) -> NoteRead:
        """Store a note; the response carries the redacted text and the entity types found."""
        del purpose
        svc = NoteService(session, vault_of(state).customer_deps, detector(state))
        return NoteRead.from_view(await svc.add(customer_id, data.text, data.language, caller))

    @get("/", operation_id="ListNotes", dependencies={"session": Provide(provide_read_session)})
    async def list_notes(self, customer_id: FromPath[uuid.UUID], caller: NamedDependency[Caller],
                         session: NamedDependency[AsyncSession], state: State,
                         purpose: Annotated[str | None, QueryParameter()] = None) -> list[NoteRead]:
        """Notes, newest first: originals for roles with notes:read, redacted copies for notes:read_masked."""
        del purpose
        svc = NoteService(session, vault_of(state).customer_deps, detector(state))
        return [NoteRead.from_view(v) for v in await svc.list(customer_id, caller)]
