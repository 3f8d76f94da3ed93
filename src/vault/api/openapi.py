"""The OpenAPI document: one problem+json schema for every error response of every operation.

Litestar documents, per operation, only a generic ``application/json``
validation error (``status_code``/``detail``/``extra``), which is not what the
vault sends (RFC 9457 ``application/problem+json``, see :mod:`vault.api.errors`)
and which client generators cannot parse. :class:`ProblemResponses` is a
route plugin: every HTTP route registered on the app, from any controller,
present or future, gets the error statuses in :data:`ERROR_RESPONSES`
declared as ``application/problem+json`` with the one shared :class:`Problem`
schema. A handler that declares its own response for a status keeps it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import HTTPRoute

from vault.api.errors import PROBLEM

if TYPE_CHECKING:
    from litestar.routes import BaseRoute


class Problem(msgspec.Struct, kw_only=True):
    """An error, as RFC 9457 problem details (``application/problem+json``).

    ``type`` is stable and machine-readable (``urn:vault:access.purpose_denied``);
    ``detail`` is for people and never repeats submitted values. The optional
    members name what was at fault.
    """

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    field: str | None = None
    fields: list[str] | None = None
    permission: str | None = None
    purpose: str | None = None
    valid: list[str] | None = None
    customer_id: str | None = None
    reason: str | None = None


#: Every error status the vault answers with, and when (vault.api.errors maps domain errors to them).
ERROR_RESPONSES: dict[int, str] = {
    400: "Bad request: malformed JSON, a parameter of the wrong type, a bad cursor",
    401: "No, unknown, revoked or expired credentials",
    403: "Denied: permission, purpose, restriction, objection or lawful basis",
    404: "No such resource (or not visible to the caller)",
    409: "Conflict: duplicate, stale If-Match row version, reused Idempotency-Key",
    413: "Request body larger than the configured limit",
    422: "A value is not acceptable (field named in `field` or `fields`), unknown or missing purpose",
    500: "The vault could not complete the request (nothing about it is echoed)",
    503: "The vault is misconfigured or a dependency is unavailable",
}


def problem_responses() -> dict[int, ResponseSpec]:
    """The shared error responses, one :class:`Problem` schema under ``application/problem+json``."""
    return {
        status: ResponseSpec(data_container=Problem, description=text, media_type=PROBLEM, generate_examples=False)
        for status, text in ERROR_RESPONSES.items()
    }


class ProblemResponses(ReceiveRoutePlugin):
    """Declare :data:`ERROR_RESPONSES` on every HTTP route as it is registered (any controller, any router)."""

    def receive_route(self, route: BaseRoute) -> None:
        """Add the error responses a handler does not declare itself."""
        if not isinstance(route, HTTPRoute):
            return
        for handler in route.route_handlers:
            handler.responses = {**problem_responses(), **(handler.responses or {})}
