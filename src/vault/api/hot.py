"""The hot routes answered without the framework's per-request layers: ``GET /v1/customers/{id}``,
``POST /v1/customers`` and ``POST /v1/customers/{id}/consents``.

Litestar's router, three middlewares, the caller dependency, signature parsing and response object cost
about as much CPU as the audited read itself (docs/architecture.md, where a request spends its time).
:class:`HotRoutes` wraps the app's ASGI handler and answers the ordinary case of these routes directly,
with the same steps in the same order:

1. the request-size caps of :class:`vault.api.limits.RequestLimits` (and the app's body-size cap);
2. the erasure-journal gate of :class:`vault.api.limits.RestoreGate`;
3. API-key authentication from the key cache of :class:`vault.api.auth.ApiKeyAuthentication`;
4. the caller, built as :func:`vault.api.deps.provide_caller` builds it;
5. the handlers' own bodies (:func:`vault.api.customers.read_customer`, :func:`~vault.api.customers.create_customer`,
   :func:`vault.api.consents.record_consents`): guard, transaction, audit, view;
6. errors rendered by the app's own exception handlers (problem+json), and the app's ``before_send`` hooks
   (security headers) applied by Litestar's send wrapper around this handler.

Anything else goes to the framework unchanged: another method or path, an id that is not a canonical UUID,
query parameters other than ``purpose``, a request over the caps, a pending erasure replay, a blocked
source, a key not in the cache (the framework's path authenticates it, counts failures and fills the
cache), a body without a length or not declared as JSON, or one that does not decode strictly into the
route's body type (the framework reads it again from a replay and explains the error in its own words).
So every refusal keeps exactly one implementation, and the fast path only serves what the framework would
have served the same way (tests compare the two byte for byte).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request
from litestar.enums import ScopeType

from vault.access.caller import Caller
from vault.api.auth import bearer_token
from vault.api.consents import ConsentRequestBody, record_consents
from vault.api.customers import create_customer, read_customer
from vault.api.deps import sanitized_request_id
from vault.api.errors import handler_for
from vault.api.limits import head_bytes, url_bytes

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

    from vault.access.failures import AuthFailures
    from vault.api.auth import KeyCache

PREFIX = "/v1/customers/"
CONSENTS = "/consents"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PURPOSE_QUERY = re.compile(rb"(?:purpose=([A-Za-z0-9_.\-]*))?\Z")
_ENCODE = msgspec.json.Encoder().encode
_DECODE_OBJECT = msgspec.json.Decoder(dict[str, Any]).decode
_DECODE_CONSENTS = msgspec.json.Decoder(ConsentRequestBody).decode
_JSON = b"application/json"
_JSON_TYPES = (b"application/json", b"application/json; charset=utf-8", b"application/json;charset=utf-8")
_IDEMPOTENCY_KEY_MAX = 200  # as the route's HeaderParameter

_READ, _CREATE, _CONSENTS = 1, 2, 3


def _route(method: str, path: str) -> int:
    """Which hot route ``method path`` is (0: none)."""
    if method == "GET":
        return _READ if len(path) == len(PREFIX) + 36 and _is_id(path, len(PREFIX)) else 0
    if method != "POST":
        return 0
    if path == "/v1/customers":
        return _CREATE
    if len(path) == len(PREFIX) + 36 + len(CONSENTS) and path.endswith(CONSENTS) and _is_id(path, len(PREFIX)):
        return _CONSENTS
    return 0


def _is_id(path: str, at: int) -> bool:
    return path.startswith(PREFIX) and _UUID.match(path, at) is not None


class HotRoutes:
    """ASGI wrapper serving the ordinary hot requests directly, the rest through ``fallback``."""

    def __init__(self, app: Litestar, fallback: ASGIApp, *, max_header_bytes: int, max_url_bytes: int,
                 max_body_bytes: int) -> None:
        self._app = app
        self._fallback = fallback
        self._max_header = max_header_bytes
        self._max_url = max_url_bytes
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._fallback(scope, receive, send)
            return
        path: str = scope["path"]
        route = _route(scope["method"], path)
        if not route:
            await self._fallback(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        purpose_match = _PURPOSE_QUERY.match(query)
        state = self._app.state
        if (purpose_match is None or state.get("unreplayed", 0)
                or url_bytes(scope) > self._max_url or head_bytes(scope) > self._max_header):
            await self._fallback(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:  # the first of repeated headers, as the framework's Headers.get
            headers.setdefault(name, value)
        client = scope.get("client")
        source = client[0] if client else None
        failures: AuthFailures = state.auth_failures
        principal = None
        authorization = headers.get(b"authorization")
        if authorization is not None and not failures.blocked(source):
            token = bearer_token(authorization.decode("latin-1"))
            if token is not None:
                cache: KeyCache = state.key_cache
                principal = cache.get(token)
        if principal is None:
            await self._fallback(scope, receive, send)
            return
        body = b""
        if route != _READ:
            read = await self._body(scope, receive, send, headers)
            if read is None:
                return
            body, receive = read
        x_purpose = headers.get(b"x-purpose")
        purpose = (purpose_match.group(1) or b"").decode() or (x_purpose.decode("latin-1") if x_purpose else None)
        request_id = headers.get(b"x-request-id")
        rid = sanitized_request_id(request_id.decode("latin-1") if request_id else "")
        caller = Caller(principal, purpose=purpose or None, request_id=rid, client_ip=source)
        vault = state.vault
        answer: Any
        extra: dict[str, str]
        if route == _READ:
            status = 200
        elif route == _CREATE:
            idempotency_key = headers.get(b"idempotency-key")
            try:
                data = _DECODE_OBJECT(body)
            except Exception:  # not a JSON object (or not JSON): the framework says so in its own words
                await self._fallback(scope, receive, send)
                return
            if idempotency_key is not None and len(idempotency_key) > _IDEMPOTENCY_KEY_MAX:
                await self._fallback(scope, receive, send)
                return
            key = idempotency_key.decode("latin-1") if idempotency_key is not None else None
        else:
            try:
                consents = _DECODE_CONSENTS(body)
            except Exception:  # not valid for the route's body type: the framework explains why
                await self._fallback(scope, receive, send)
                return
        scope_state = scope["state"]
        scope_state["principal"] = principal
        scope_state["request_id"] = rid
        try:
            if route == _READ:
                answer, etag = await read_customer(vault, uuid.UUID(path[len(PREFIX):]), caller)
                extra = {"etag": etag}
            elif route == _CREATE:
                answer, status, extra = await create_customer(vault, data, caller, key)
            else:
                customer_id = uuid.UUID(path[len(PREFIX):len(PREFIX) + 36])
                answer, status, extra = await record_consents(vault, customer_id, consents, caller), 201, {}
            payload = _ENCODE(answer)
        except Exception as exc:  # rendered exactly as the framework renders it
            await self._problem(scope, receive, send, exc)
            return
        start: HTTPResponseStartEvent = {
            "type": "http.response.start", "status": status,
            "headers": [(b"content-type", _JSON), (b"content-length", str(len(payload)).encode()),
                        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items())]}
        await send(start)
        end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": payload, "more_body": False}
        await send(end)

    async def _body(self, scope: Scope, receive: Receive, send: Send,
                    headers: dict[bytes, bytes]) -> tuple[bytes, Receive] | None:
        """The whole JSON body and a ``receive`` that replays it, or None when the request went to the framework
        (no length given, over the cap, not JSON): the framework then reads it and answers as it always does."""
        length = headers.get(b"content-length")
        if (headers.get(b"content-type", b"").lower() not in _JSON_TYPES or length is None
                or not length.isdigit() or int(length) > self._max_body):
            await self._fallback(scope, receive, send)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            chunks.append(chunk)
            if size > self._max_body:
                break
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replay = _Replay(body, receive)
        if size > self._max_body or size != int(length):
            await self._fallback(scope, replay, send)
            return None
        return body, replay

    async def _problem(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        request: Request[Any, Any, Any] = self._app.request_class(scope=scope, receive=receive, send=send)
        response = handler_for(exc)(request, exc)
        await response.to_asgi_response(app=None, request=request, type_encoders=self._app.type_encoders)(
            scope, receive, send)


class _Replay:
    """A ``receive`` that gives the body already read once more, then defers to the server's."""

    __slots__ = ("_body", "_receive")

    def __init__(self, body: bytes, receive: Receive) -> None:
        self._body: bytes | None = body
        self._receive = receive

    async def __call__(self) -> Any:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        return await self._receive()


def install(app: Litestar, *, max_header_bytes: int, max_url_bytes: int, max_body_bytes: int) -> None:
    """Put :class:`HotRoutes` in front of the app's ASGI handler (inside Litestar's ``before_send`` wrapper)."""
    app.asgi_handler = HotRoutes(app, app.asgi_handler, max_header_bytes=max_header_bytes,
                                max_url_bytes=max_url_bytes, max_body_bytes=max_body_bytes)
