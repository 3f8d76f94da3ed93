"""Request-scoped dependencies: the vault, the caller, sessions."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from vault.access.caller import Caller
from vault.access.errors import InvalidCredentialsError
from vault.access.principals import Principal
from vault.bootstrap import Vault

KEY_CACHE_TTL = 5.0  # seconds a verified API key is trusted before it is looked up again


class KeyCache:
    """Short-lived cache of verified API keys (by SHA-256 of the key), per process."""

    def __init__(self, ttl: float = KEY_CACHE_TTL) -> None:
        self._ttl = ttl
        self._items: dict[str, tuple[float, Principal]] = {}

    def get(self, token: str) -> Principal | None:
        item = self._items.get(token)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, token: str, principal: Principal) -> None:
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[token] = (time.monotonic() + self._ttl, principal)

    def clear(self) -> None:
        self._items.clear()


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
    given = request.headers.get("x-request-id", "")
    rid = given if 0 < len(given) <= 64 and given.replace("-", "").isalnum() else uuid.uuid4().hex
    request.scope["state"]["request_id"] = rid
    return rid


async def provide_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    """Authenticate ``Authorization: Bearer <api key>``.

    Raises:
        InvalidCredentialsError: missing, malformed, unknown or revoked key (audited).
    """
    vault = vault_of(state)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    cache: KeyCache = state.key_cache
    if scheme.lower() == "bearer" and token:
        cached = cache.get(token)
        if cached is not None:
            return cached
        try:
            async with vault.db.read() as session:
                principal = await vault.principals(session).authenticate_key(token)
        except InvalidCredentialsError:
            pass
        else:
            cache.put(token, principal)
            return principal
        reason = "unknown, revoked or malformed API key"
    else:
        reason = "missing Authorization: Bearer header"
    await vault.guard.reject_credentials(reason, request_id=request_id(request), client_ip=client_ip(request))


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
