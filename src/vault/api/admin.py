"""/v1/principals, /v1/audit, /v1/purposes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from vault.access import permissions as perms
from vault.access.caller import Caller
from vault.access.errors import SelfApprovalError
from vault.api.deps import provide_read_session, provide_write_session, vault_of
from vault.api.schemas import AuditEntryRead, AuditPage, KeyIssued, PrincipalCreate, PrincipalRead
from vault.audit.entry import AuditEvent, Outcome
from vault.audit.query import AuditFilter, search
from vault.errors import BadRequestError


class PrincipalController(Controller):
    """Principals and API keys (admin manages; compliance officers may list)."""

    path = "/v1/principals"
    tags = ["principals"]

    @get("/", operation_id="ListPrincipals", dependencies={"session": Provide(provide_read_session)})
    async def list_principals(self, caller: NamedDependency[Caller], session: NamedDependency[AsyncSession],
                              state: State) -> list[PrincipalRead]:
        """List principals and their key prefixes."""
        await vault_of(state).guard.require_any_purpose(caller, perms.PRINCIPALS_READ, "principal.list")
        svc = vault_of(state).principals(session)
        return [PrincipalRead.from_row(p, await svc.keys(p.id)) for p in await svc.list()]

    @post("/", operation_id="CreatePrincipal", dependencies={"session": Provide(provide_write_session)})
    async def create_principal(self, data: JSONBody[PrincipalCreate], caller: NamedDependency[Caller],
                               session: NamedDependency[AsyncSession],
                               state: State) -> PrincipalRead:
        """Create a principal; a service gets an API key, shown only in this response.

        A principal whose role may read personal data is created ``pending_approval``: its key and
        login work only after a compliance officer other than the creator approves it.
        """
        await vault_of(state).guard.require_any_purpose(caller, perms.PRINCIPALS_CREATE, "principal.create")
        svc = vault_of(state).principals(session)
        principal, key = await svc.create(data.name, data.role, caller.actor, kind=data.kind,
                                          password=data.password, with_key=data.kind == "service")
        return PrincipalRead.from_row(await svc.get(principal.id), None, key)

    @post("/me/keys", operation_id="RotateOwnKey", dependencies={"session": Provide(provide_write_session)})
    async def rotate_own_key(self, caller: NamedDependency[Caller], session: NamedDependency[AsyncSession],
                             state: State) -> KeyIssued:
        """Issue another API key for the calling principal itself (key rotation); revoke the old one after."""
        assert caller.principal is not None
        return KeyIssued.from_issued(await vault_of(state).principals(session).rotate_own_key(caller.principal))

    @post("/{principal_id:uuid}/keys", operation_id="IssueKey",
          dependencies={"session": Provide(provide_write_session)})
    async def issue_key(self, principal_id: FromPath[uuid.UUID], caller: NamedDependency[Caller],
                        session: NamedDependency[AsyncSession],
                        state: State) -> KeyIssued:
        """Rotate the caller's own key; issuing a key for another principal is refused (and audited).

        A principal gets its key at creation or rotates its own, so nobody (an admin included) can
        obtain a working key of another principal and act in its name.
        """
        return KeyIssued.from_issued(await vault_of(state).principals(session).issue_key(principal_id, caller))

    @post("/{principal_id:uuid}/approve", operation_id="ApprovePrincipal",
          dependencies={"session": Provide(provide_write_session)})
    async def approve_principal(self, principal_id: FromPath[uuid.UUID], caller: NamedDependency[Caller],
                                session: NamedDependency[AsyncSession],
                                state: State) -> PrincipalRead:
        """Second approval (compliance officer, not the creator) of a pending PII-capable principal."""
        await vault_of(state).guard.require_any_purpose(caller, perms.PRINCIPALS_APPROVE, "principal.approve")
        assert caller.principal is not None
        svc = vault_of(state).principals(session)
        try:
            row = await svc.approve(principal_id, caller.principal)
        except SelfApprovalError as exc:
            await vault_of(state).guard.deny(caller, "principal.approve", exc, context=f"principal={principal_id}")
        state.key_cache.clear()
        return PrincipalRead.from_row(row, await svc.keys(principal_id))

    @post("/{principal_id:uuid}/enable", operation_id="EnablePrincipal",
          dependencies={"session": Provide(provide_write_session)})
    async def enable_principal(self, principal_id: FromPath[uuid.UUID], caller: NamedDependency[Caller],
                               session: NamedDependency[AsyncSession],
                               state: State) -> PrincipalRead:
        """Re-enable a principal; a PII-capable one stays pending until a compliance officer approves it."""
        await vault_of(state).guard.require_any_purpose(caller, perms.PRINCIPALS_UPDATE, "principal.enable")
        svc = vault_of(state).principals(session)
        row = await svc.enable(principal_id, caller.actor)
        state.key_cache.clear()
        return PrincipalRead.from_row(row, await svc.keys(principal_id))

    @post("/keys/{prefix:str}/revoke", operation_id="RevokeKey", status_code=204,
          dependencies={"session": Provide(provide_write_session)})
    async def revoke_key(self, prefix: FromPath[str], caller: NamedDependency[Caller],
                         session: NamedDependency[AsyncSession], state: State) -> None:
        """Revoke an API key by prefix."""
        await vault_of(state).guard.require_any_purpose(caller, perms.PRINCIPALS_UPDATE, "key.revoke")
        await vault_of(state).principals(session).revoke_key(prefix, caller.actor)
        state.key_cache.clear()

    @post("/{principal_id:uuid}/disable", operation_id="DisablePrincipal", status_code=204,
          dependencies={"session": Provide(provide_write_session)})
    async def disable_principal(self, principal_id: FromPath[uuid.UUID], caller: NamedDependency[Caller],
                                session: NamedDependency[AsyncSession],
                                state: State) -> None:
        """Disable a principal: its keys stop working."""
        await vault_of(state).guard.require_any_purpose(caller, perms.PRINCIPALS_UPDATE, "principal.disable")
        await vault_of(state).principals(session).disable(principal_id, caller.actor)
        state.key_cache.clear()


class AuditController(Controller):
    """The audit log, for compliance officers."""

    path = "/v1/audit"
    tags = ["audit"]

    @get("/", operation_id="SearchAudit", dependencies={"session": Provide(provide_read_session)})
    async def search_audit(
        self, caller: NamedDependency[Caller], session: NamedDependency[AsyncSession], state: State,
        principal_id: FromQuery[uuid.UUID | None] = None, customer_id: FromQuery[uuid.UUID | None] = None,
        action: Annotated[str | None, QueryParameter(max_length=60)] = None,
        outcome: Annotated[str | None, QueryParameter(max_length=16)] = None,
        since: FromQuery[datetime | None] = None, until: FromQuery[datetime | None] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=20)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> AuditPage:
        """Filter by principal, customer, action, outcome and time range; oldest first, cursor-paginated."""
        await vault_of(state).guard.require_any_purpose(caller, perms.AUDIT_READ, "audit.read")
        try:
            after = int(cursor) if cursor else 0
        except ValueError:
            raise BadRequestError("cursor must be the next_cursor of a previous page") from None
        flt = AuditFilter(principal_id, customer_id, action, outcome, since, until)
        rows = await search(session, flt, after_seq=after, limit=limit)
        await vault_of(state).audit.record_durable(AuditEvent(
            "audit.read", Outcome.ALLOWED, caller.actor, customer_id=customer_id, request_id=caller.request_id,
            client_ip=caller.client_ip, detail=f"{len(rows)} entries"))
        return AuditPage(items=[AuditEntryRead.from_row(r) for r in rows],
                         next_cursor=str(rows[-1].seq) if len(rows) == limit else None)


class PurposeController(Controller):
    """The purpose catalogue (public to every authenticated caller)."""

    path = "/v1/purposes"
    tags = ["purposes"]

    @get("/", operation_id="ListPurposes")
    async def list_purposes(self, caller: NamedDependency[Caller], state: State) -> list[dict[str, Any]]:
        """Every purpose with its lawful basis, channels, fields, retention and current notice."""
        del caller
        return [
            {
                "id": p.id, "title": p.title.model_dump(), "lawful_basis": str(p.lawful_basis),
                "required": p.required, "channels": [str(c) for c in p.channels], "fields": list(p.fields),
                "retention_days": p.retention_days, "reconfirm_days": p.reconfirm_days,
                "night_opt_in_required": p.night_opt_in_required, "night_opt_in_purpose": p.night_opt_in_purpose,
                "statute_ref": p.statute_ref, "recipient": p.recipient, "country": p.country,
                "notice": {"version": p.current_notice.version, "sha256": p.current_notice.disclosure_hash(p.id),
                           "text": p.current_notice.text.model_dump()},
                "notices": [{"version": n.version, "sha256": n.disclosure_hash(p.id)} for n in p.notices],
            }
            for p in vault_of(state).policies.purposes
        ]
