"""The hot read route, ``GET /v1/customers/{id}``, answered without the framework's per-request layers.

Litestar's router, three middlewares, the caller dependency, signature parsing and response object cost
about as much CPU as the read itself (the audited point read, decrypt and view: docs/architecture.md,
where a read spends its time). :class:`HotReads` wraps the app's ASGI handler and answers the ordinary
case of this one route directly, with the same steps in the same order:

1. the request-size caps of :class:`vault.api.limits.RequestLimits`;
2. the erasure-journal gate of :class:`vault.api.limits.RestoreGate`;
3. API-key authentication from the key cache of :class:`vault.api.auth.ApiKeyAuthentication`;
4. the caller, built as :func:`vault.api.deps.provide_caller` builds it;
5. :func:`vault.api.customers.read_customer`, the handler's own body (guard, audit, view);
6. errors rendered by the app's own exception handlers (problem+json), and the app's ``before_send`` hooks
   (security headers) applied by Litestar's send wrapper around this handler.

Anything else goes to the framework unchanged: another method or path, an id that is not a canonical UUID,
query parameters other than ``purpose``, a request over the caps, a pending erasure replay, a blocked
source, or a key not in the cache (the framework's path authenticates it, counts failures and fills the
cache). So every refusal keeps exactly one implementation, and the fast path only serves what the
framework would have served the same way (tests compare the two byte for byte).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request
from litestar.enums import ScopeType

from vault.access.caller import Caller
from vault.api.customers import read_customer
from vault.api.deps import sanitized_request_id
from vault.api.errors import EXCEPTION_HANDLERS, internal_error
from vault.errors import VaultError

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

    from vault.access.failures import AuthFailures
    from vault.api.auth import KeyCache

PREFIX = "/v1/customers/"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_PURPOSE_QUERY = re.compile(rb"(?:purpose=([A-Za-z0-9_.\-]*))?\Z")
_ENCODE = msgspec.json.Encoder().encode
_JSON = b"application/json"


class HotReads:
    """ASGI wrapper serving the ordinary ``GET /v1/customers/{id}`` directly, the rest through ``fallback``."""

    def __init__(self, app: Litestar, fallback: ASGIApp, *, max_header_bytes: int, max_url_bytes: int) -> None:
        self._app = app
        self._fallback = fallback
        self._max_header = max_header_bytes
        self._max_url = max_url_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "GET":
            await self._fallback(scope, receive, send)
            return
        path: str = scope["path"]
        if not path.startswith(PREFIX) or not _UUID.match(path, len(PREFIX)):
            await self._fallback(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        purpose_match = _PURPOSE_QUERY.match(query)
        state = self._app.state
        if (purpose_match is None or state.get("unreplayed", 0)
                or len(path.encode()) + len(query) > self._max_url
                or sum(len(k) + len(v) + 4 for k, v in scope["headers"]) > self._max_header):
            await self._fallback(scope, receive, send)
            return
        authorization = x_purpose = request_id = None
        for name, value in scope["headers"]:  # the first of repeated headers, as the framework's Headers.get
            if name == b"authorization":
                authorization = authorization or value
            elif name == b"x-purpose":
                x_purpose = x_purpose or value
            elif name == b"x-request-id":
                request_id = request_id or value
        client = scope.get("client")
        source = client[0] if client else None
        failures: AuthFailures = state.auth_failures
        principal = None
        if authorization is not None and not failures.blocked(source):
            scheme, _, token = authorization.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token:
                cache: KeyCache = state.key_cache
                principal = cache.get(token)
        if principal is None:
            await self._fallback(scope, receive, send)
            return
        purpose = (purpose_match.group(1) or b"").decode() or (x_purpose.decode("latin-1") if x_purpose else None)
        rid = sanitized_request_id(request_id.decode("latin-1") if request_id else "")
        scope_state = scope["state"]
        scope_state["principal"] = principal
        scope_state["request_id"] = rid
        caller = Caller(principal, purpose=purpose or None, request_id=rid, client_ip=source)
        try:
            read, etag = await read_customer(state.vault, uuid.UUID(path[len(PREFIX):]), caller)
            body = _ENCODE(read)
        except Exception as exc:  # rendered exactly as the framework renders it
            await self._problem(scope, receive, send, exc)
            return
        start: HTTPResponseStartEvent = {
            "type": "http.response.start", "status": 200,
            "headers": [(b"content-type", _JSON), (b"content-length", str(len(body)).encode()),
                        (b"etag", etag.encode())]}
        await send(start)
        end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
        await send(end)

    async def _problem(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        request: Request[Any, Any, Any] = self._app.request_class(scope=scope, receive=receive, send=send)
        handler = EXCEPTION_HANDLERS[VaultError] if isinstance(exc, VaultError) else internal_error
        response = handler(request, exc)
        await response.to_asgi_response(app=None, request=request, type_encoders=self._app.type_encoders)(
            scope, receive, send)


def install(app: Litestar, *, max_header_bytes: int, max_url_bytes: int) -> None:
    """Put :class:`HotReads` in front of the app's ASGI handler (inside Litestar's ``before_send`` wrapper)."""
    app.asgi_handler = HotReads(app, app.asgi_handler, max_header_bytes=max_header_bytes,
                                max_url_bytes=max_url_bytes)
