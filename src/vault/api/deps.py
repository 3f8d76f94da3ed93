"""Request-scoped dependencies: the vault, the caller, sessions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from vault.access.caller import Caller
from vault.access.errors import InvalidCredentialsError
from vault.access.failures import AuthFailures
from vault.access.principals import Principal
from vault.api.auth import authenticate
from vault.bootstrap import Vault


def vault_of(state: State) -> Vault:
    """The vault built at start-up."""
    vault: Vault = state.vault
    return vault


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    """The peer address (no proxy headers trusted by default)."""
    return request.client.host if request.client else None


def request_id(request: Request[Any, Any, Any]) -> str:
    """The request id: the caller's X-Request-ID (sanitized) or a new one."""
    rid = request.scope["state"].get("request_id")
    if rid:
        return str(rid)
    rid = sanitized_request_id(request.headers.get("x-request-id", ""))
    request.scope["state"]["request_id"] = rid
    return rid


def sanitized_request_id(given: str) -> str:
    """The caller's X-Request-ID when it is 1-64 letters, digits and dashes, else a new one."""
    return given if 0 < len(given) <= 64 and given.replace("-", "").isalnum() else uuid.uuid4().hex


async def provide_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    """The principal :class:`vault.api.auth.ApiKeyAuthentication` authenticated for this request.

    Routes outside ``/v1`` that need a principal authenticate here the same way.

    Raises:
        InvalidCredentialsError: missing, malformed, unknown or revoked key (counted per source and minute).
    """
    principal: Principal | None = request.scope["state"].get("principal")
    if principal is not None:
        return principal
    try:
        return await authenticate(vault_of(state), state.key_cache, request.headers.get("authorization", ""))
    except InvalidCredentialsError as exc:
        failures: AuthFailures = state.auth_failures
        failures.record(client_ip(request), exc.detail)
        raise InvalidCredentialsError(f"authentication required: {exc.detail}") from None


async def provide_caller(request: Request[Any, Any, Any], state: State) -> Caller:
    """The one request dependency: the authenticated principal with the request's purpose (query
    ``purpose`` or header ``X-Purpose``), request id and client address.

    Raises:
        InvalidCredentialsError: missing, malformed, unknown or revoked key (audited).
    """
    principal = await provide_principal(request, state)
    purpose = request.query_params.get("purpose") or request.headers.get("x-purpose") or None
    return Caller(principal, purpose=purpose, request_id=request_id(request), client_ip=client_ip(request))


async def provide_read_session(state: State) -> AsyncIterator[AsyncSession]:
    """A read transaction for the request."""
    async with vault_of(state).db.read() as session:
        yield session


async def provide_write_session(state: State) -> AsyncIterator[AsyncSession]:
    """A write transaction committed when the handler returns without error."""
    async with vault_of(state).db.write() as session:
        yield session
