"""Security headers on every response (API, docs, console, static files and errors alike)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.enums import ScopeType

if TYPE_CHECKING:
    from litestar.types import Message, Scope

# No 'unsafe-inline' and no 'unsafe-eval' anywhere: every script and style is a file served from the package.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


async def security_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook adding :data:`SECURITY_HEADERS` to every HTTP response, replacing any a handler set.

    A hook, not a middleware: Litestar runs it for every response, including 404s and error pages that no
    route middleware sees.
    """
    if scope["type"] != ScopeType.HTTP or message["type"] != "http.response.start":
        return
    headers = [(k, v) for k, v in message.get("headers", ()) if bytes(k).lower() not in _NAMES]
    message["headers"] = [*headers, *SECURITY_HEADERS]
