"""Size caps on the request line and headers, before anything else reads them.

Two layers: :class:`BoundedHttpToolsProtocol` makes `vault serve` (uvicorn + httptools)
stop reading a request whose head grows past the cap, so an 8 MB header is never buffered;
:class:`RequestLimits`, an ASGI middleware, applies the same caps inside the app (any server,
and the test client) and answers problem+json 414 / 431.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

if TYPE_CHECKING:
    from litestar.types import (
        ASGIApp,
        HTTPResponseBodyEvent,
        HTTPResponseStartEvent,
        HTTPScope,
        Receive,
        Scope,
        Send,
    )

MAX_HEADER_BYTES = 16_384
MAX_URL_BYTES = 8_192


def _problem(status: int, title: str, detail: str, type_: str | None = None) -> bytes:
    type_ = type_ or ("uri_too_long" if status == 414 else "headers_too_large")
    return json.dumps({"type": f"urn:vault:{type_}", "title": title, "status": status, "detail": detail}).encode()


def url_bytes(scope: HTTPScope) -> int:
    """The request URL's size as the caps count it: path and query string."""
    # Not raw_path: some servers (httpx's ASGI transport) put the query string in it too.
    return len(scope["path"].encode()) + len(scope.get("query_string", b""))


def head_bytes(scope: HTTPScope) -> int:
    """The header block's size as the caps count it (name, value, ": " and CRLF per header)."""
    return sum(len(k) + len(v) + 4 for k, v in scope["headers"])


class RequestLimits:
    """ASGI middleware refusing over-long URLs (414) and header blocks (431) before routing reads them."""

    def __init__(self, app: ASGIApp, *, max_header_bytes: int = MAX_HEADER_BYTES,
                 max_url_bytes: int = MAX_URL_BYTES) -> None:
        self._app = app
        self._max_header = max_header_bytes
        self._max_url = max_url_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            url, head = url_bytes(scope), head_bytes(scope)
            if url > self._max_url:
                await _refuse(send, 414, "URI too long", f"the request URL exceeds {self._max_url} bytes")
                return
            if head > self._max_header:
                await _refuse(send, 431, "Request header fields too large",
                              f"the request headers exceed {self._max_header} bytes")
                return
        await self._app(scope, receive, send)


async def _refuse(send: Send, status: int, title: str, detail: str, *, type_: str | None = None,
                  headers: dict[str, str] | None = None) -> None:
    body = _problem(status, title, detail, type_)
    raw = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status, "headers": raw}
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)


class RestoreGate:
    """ASGI middleware: while the erasure journal is not replayed (after a restore), ``/v1`` answers 503.

    ``app.state.unreplayed`` (set at start-up and re-checked periodically by the app) counts the
    customers the journal says are erased but the restored database still holds.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["path"].startswith("/v1/"):
            pending: int = scope["app"].state.get("unreplayed", 0)
            if pending:
                await _refuse(send, 503, "Erasure journal not replayed",
                              f"the database holds {pending} customers the erasure journal says are erased (a "
                              "restore from an older backup?); run `vault rights replay-erasures` first",
                              type_="erasures_not_replayed", headers={"Retry-After": "60"})
                return
        await self._app(scope, receive, send)


refuse = _refuse  # answer a raw ASGI request with problem+json (used by the authentication middleware)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that answers 431 and closes once a request head exceeds the cap.

    httptools buffers a header until it is complete, so without this an 8 MB header sits in memory
    before the app can refuse it. Body bytes are not counted (``request_max_body_size`` caps those).
    """

    max_head_bytes = MAX_HEADER_BYTES + MAX_URL_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0

    def on_message_begin(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
            body = _problem(431, "Request header fields too large",
                            f"the request line and headers exceed {self.max_head_bytes} bytes")
            self.transport.write(b"".join([
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
                b"content-type: application/problem+json\r\n",
                b"content-length: " + str(len(body)).encode() + b"\r\n",
                b"connection: close\r\n\r\n", body]))
            self.transport.close()
