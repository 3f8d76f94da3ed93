"""The API docs page: Swagger UI from the package's vendored copy (no CDN, no web fonts, no inline script)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from litestar.openapi.plugins import OpenAPIRenderPlugin

if TYPE_CHECKING:
    from litestar.connection import Request

STATIC = "/console/static"


class VendoredSwaggerPlugin(OpenAPIRenderPlugin):
    """Render ``/schema`` with the vendored Swagger UI; its start-up script is a static file, so the CSP holds."""

    def __init__(self, *, path: str = "/swagger", title: str = "Customer Vault API") -> None:
        super().__init__(path=path, favicon=f"<link rel='icon' href='{STATIC}/favicon.svg'>", style="")
        self.title = title

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The HTML page; the browser fetches the schema from ``openapi.json`` beside it."""
        del openapi_schema
        spec_url = escape(self.get_openapi_json_route(request), quote=True)
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(self.title)}</title>{self.favicon}"
            f"<link rel='stylesheet' href='{STATIC}/vendor/swagger-ui/swagger-ui.css'>"
            f"</head><body><div id='swagger-ui' data-spec-url='{spec_url}'></div>"
            f"<script src='{STATIC}/vendor/swagger-ui/swagger-ui-bundle.js'></script>"
            f"<script src='{STATIC}/docs.js'></script></body></html>"
        ).encode()
