"""Every error as RFC 9457 problem+json, mapped from the domain error categories once."""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING, Any

from litestar import MediaType, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from vault.errors import (
    AccessDeniedError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    VaultError,
)

if TYPE_CHECKING:
    from litestar import Request

log = logging.getLogger("vault.api")
PROBLEM = "application/problem+json"
STATUS: tuple[tuple[type[VaultError], int], ...] = (
    (AuthenticationError, 401),
    (AccessDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidInputError, 422),
    (BadRequestError, 400),
    (ConfigurationError, 503),
    (UnavailableError, 503),
    (RateLimitedError, 429),
)
_SAFE_EXTRA = {"field", "fields", "permission", "purpose", "valid", "customer_id", "reason", "position", "segment",
               "state", "missing", "retry_after",
               # extract refusals: generalized class values and counts, never a customer's value
               "worst_classes", "blocking", "failing_rows", "eligible_rows", "max_suppressed_rows", "levels",
               # the ε ledger
               "epsilon_budget", "epsilon_spent", "epsilon_remaining", "epsilon_requested", "job_status"}


def problem_response(status: int, type_: str, title: str, detail: str, request: Request[Any, Any, Any],
                     **extra: Any) -> Response[dict[str, Any]]:
    """Build a problem+json response."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail,
                            "instance": request.url.path}
    rid = request.scope.get("state", {}).get("request_id")
    if rid:
        body["request_id"] = rid
    body.update(extra)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="customer-vault"'
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    elif status == 503:
        headers["Retry-After"] = "5"
    return Response(body, status_code=status, media_type=PROBLEM, headers=headers or None)


def vault_error(request: Request[Any, Any, Any], exc: VaultError) -> Response[dict[str, Any]]:
    """Map a domain error to its status."""
    status = next((s for t, s in STATUS if isinstance(exc, t)), 400)
    extra = {k: v for k, v in exc.extra.items() if k in _SAFE_EXTRA}
    return problem_response(status, f"urn:vault:{exc.code}", exc.title, exc.detail, request, **extra)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    """Framework errors (malformed JSON, unknown route, body too large, ...)."""
    status = exc.status_code
    if isinstance(exc, ValidationException):
        detail = _validation_detail(exc, request)
        return problem_response(400, "urn:vault:bad_request", "Bad request", detail, request)
    if isinstance(exc, NotFoundException):
        return problem_response(404, "urn:vault:not_found", "Not found", "no such resource", request)
    if status == 413:
        return problem_response(413, "urn:vault:body_too_large", "Request body too large",
                                "request body exceeds the configured limit", request)
    if status == 405:
        return problem_response(405, "urn:vault:method_not_allowed", "Method not allowed", exc.detail, request)
    return problem_response(status, f"urn:vault:http_{status}", exc.detail or "Error", exc.detail or "", request)


def _validation_detail(exc: ValidationException, request: Request[Any, Any, Any]) -> str:
    extra = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    for item in extra[:5]:
        if isinstance(item, dict):
            key = item.get("key") or item.get("source") or ""
            msg = str(item.get("message", ""))
            parts.append(f"{key}: {msg}" if key else msg)
    base = exc.detail or "invalid request"
    if base.startswith("Validation failed for"):
        # Litestar quotes the whole URL, query string included (emails, phone numbers, RRNs): the path only.
        base = f"Validation failed for {request.method} {request.url.path}"
    # Never echo submitted values: keep messages that name keys, drop anything else.
    return base if not parts else f"{base}: {'; '.join(parts)}"


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """Unexpected errors: logged by type only (no values), answered without internals."""
    # The exception message may quote input values: log the type and the frames only, never the message.
    frames = "".join(traceback.format_tb(exc.__traceback__, limit=-8))
    log.error("unhandled %s on %s %s\n%s", type(exc).__name__, request.method, request.url.path, frames)
    return problem_response(HTTP_500_INTERNAL_SERVER_ERROR, "urn:vault:internal", "Internal error",
                            "the vault could not complete the request", request)


def undecodable_body(request: Request[Any, Any, Any],
                     exc: RecursionError | UnicodeDecodeError) -> Response[dict[str, Any]]:
    """A body the JSON decoder gives up on (nesting beyond the interpreter's depth, bytes that are not UTF-8)."""
    detail = ("request body is not valid UTF-8" if isinstance(exc, UnicodeDecodeError)
              else "request body nests too deeply")
    return problem_response(400, "urn:vault:bad_request", "Bad request", detail, request)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    VaultError: vault_error,
    HTTPException: http_error,
    RecursionError: undecodable_body,
    UnicodeDecodeError: undecodable_body,
    Exception: internal_error,
}
MEDIA = MediaType.JSON


def handler_for(exc: Exception) -> Any:
    """The handler :data:`EXCEPTION_HANDLERS` gives ``exc``, looked up along its class hierarchy as Litestar
    looks it up (for responses written outside the framework's own exception middleware)."""
    return next(EXCEPTION_HANDLERS[cls] for cls in type(exc).__mro__ if cls in EXCEPTION_HANDLERS)
