"""Route handlers of the browser-facing app: static assets (vendored, served from the package) and the console."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, Router
from litestar.exceptions import HTTPException, NotFoundException
from litestar.static_files import create_static_files_router

from vault.errors import AccessDeniedError, AuthenticationError, ConflictError, NotFoundError, VaultError
from vault.web.auth import AuthController, console_gate, html_error
from vault.web.pages import PAGE_CONTROLLERS

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler

STATIC_DIR = Path(__file__).parent / "static"


def _vault_error(request: Request[Any, Any, Any], exc: VaultError) -> Response[str]:
    if isinstance(exc, AccessDeniedError):
        return html_error(request, 403, "error.forbidden", exc.code)
    if isinstance(exc, AuthenticationError):
        return html_error(request, 401, "login.expired", exc.code)
    if isinstance(exc, NotFoundError):
        return html_error(request, 404, "error.not_found", exc.code)
    status = 409 if isinstance(exc, ConflictError) else 400
    return html_error(request, status, "error.bad_input", exc.code)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[str]:
    key = "error.not_found" if isinstance(exc, NotFoundException) else "error.bad_input"
    return html_error(request, exc.status_code if exc.status_code < 500 else 400, key, f"http.{exc.status_code}")


def web_handlers() -> list[ControllerRouterHandler]:
    """Everything the console adds to the app: its static files and the /console router."""
    static = create_static_files_router(
        path="/console/static", directories=[STATIC_DIR], include_in_schema=False, name="console-static",
    )
    console = Router(
        path="/", route_handlers=[AuthController, *PAGE_CONTROLLERS], before_request=console_gate,
        exception_handlers={VaultError: _vault_error, HTTPException: _http_error}, include_in_schema=False,
    )
    return [static, console]
