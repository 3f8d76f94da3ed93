"""API-key authentication as middleware: before routing parameters or the body are read.

Every ``/v1`` request is authenticated from its ``Authorization: Bearer`` header first, so an
unauthenticated client never reaches the JSON decoder. A source with too many failures is
refused (429) before its key is looked up, and failures are audited as one entry per source
and minute (:class:`vault.access.failures.AuthFailures`), not one row per request.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.enums import ScopeType

from vault.access.errors import InvalidCredentialsError
from vault.api.limits import refuse

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

    from vault.access.failures import AuthFailures
    from vault.access.principals import Principal
    from vault.bootstrap import Vault

KEY_CACHE_TTL = 5.0  # seconds a verified API key is trusted before it is looked up again (revocation delay)
PROTECTED_PREFIX = "/v1/"


class KeyCache:
    """Short-lived cache of verified API keys, keyed by the SHA-256 of the key (never the key itself).

    Each worker process holds its own; a revoked or disabled key stops working everywhere within
    ``ttl`` seconds, when every worker has looked it up again.
    """

    def __init__(self, ttl: float = KEY_CACHE_TTL) -> None:
        self._ttl = ttl
        self._items: dict[bytes, tuple[float, Principal]] = {}

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()

    def get(self, token: str) -> Principal | None:
        item = self._items.get(self._key(token))
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, token: str, principal: Principal) -> None:
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[self._key(token)] = (time.monotonic() + self._ttl, principal)

    def clear(self) -> None:
        self._items.clear()


def bearer_token(header: str) -> str | None:
    """The key of ``Authorization: Bearer <key>`` (scheme case-insensitive), or None when it is not one."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def authenticate(vault: Vault, cache: KeyCache, header: str) -> Principal:
    """The principal of ``Authorization: Bearer <key>``.

    Raises:
        InvalidCredentialsError: missing, malformed, unknown or revoked key.
    """
    token = bearer_token(header)
    if token is None:
        raise InvalidCredentialsError("missing Authorization: Bearer header")
    cached = cache.get(token)
    if cached is not None:
        return cached
    async with vault.db.read() as session:
        principal = await vault.principals(session).authenticate_key(token)
    cache.put(token, principal)
    return principal


class ApiKeyAuthentication:
    """ASGI middleware: authenticate ``/v1`` requests, or answer 401 / 429 without reading the request."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not scope["path"].startswith(PROTECTED_PREFIX):
            await self._app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = Request(scope, receive)
        state = request.app.state
        failures: AuthFailures = state.auth_failures
        source = request.client.host if request.client else None
        wait = failures.blocked(source)
        if wait:
            await refuse(send, 429, "Too many requests", "too many failed authentications from this address",
                         type_="rate_limited", headers={"Retry-After": str(wait)})
            return
        try:
            principal = await authenticate(state.vault, state.key_cache, request.headers.get("authorization", ""))
        except InvalidCredentialsError as exc:
            failures.record(source, exc.detail)
            await refuse(send, 401, "Invalid credentials", f"authentication required: {exc.detail}",
                         type_=InvalidCredentialsError.code,
                         headers={"WWW-Authenticate": 'Bearer realm="customer-vault"'})
            return
        scope["state"]["principal"] = principal
        await self._app(scope, receive, send)
