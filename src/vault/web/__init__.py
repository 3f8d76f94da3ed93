"""The compliance console (server-rendered Jinja2 + HTMX) and the browser-facing parts of the app.

A thin adapter like :mod:`vault.api`: handlers translate HTTP to domain service calls; no SQL, no crypto.
"""

from __future__ import annotations

from vault.web.docs import VendoredSwaggerPlugin
from vault.web.headers import CONTENT_SECURITY_POLICY, SECURITY_HEADERS, security_headers
from vault.web.routes import STATIC_DIR, web_handlers

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "SECURITY_HEADERS",
    "STATIC_DIR",
    "VendoredSwaggerPlugin",
    "security_headers",
    "web_handlers",
]
