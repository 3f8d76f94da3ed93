"""Data subject requests: the queue with due dates (GDPR one month, PIPA ten days), export, rectification, erasure."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect

from vault.access.caller import Caller
from vault.errors import InvalidInputError
from vault.rights.deadlines import Jurisdiction, RequestKind
from vault.web.guard import client_ip, current_user, vault_of
from vault.web.render import render

Form = URLEncodedBody[dict[str, str]]
RIGHTS_PURPOSE = "legal_claims"
STATUSES = ("open", "overdue", "received", "in_progress", "completed", "rejected")


def _caller(request: Request[Any, Any, Any], purpose: str | None = RIGHTS_PURPOSE) -> Caller:
    return Caller(current_user(request).principal, purpose=purpose, client_ip=client_ip(request))


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise InvalidInputError(f"{what} must be a UUID") from None


class RequestQueueController(Controller):
    """``/console/requests``."""

    path = "/console/requests"
    include_in_schema = False

    @get("/")
    async def queue(self, request: Request[Any, Any, Any], status: FromQuery[str] = "open") -> Response[str]:
        """Open requests, overdue first, then by due date."""
        if status not in STATUSES:
            status = "open"
        vault = vault_of(request)
        items = await vault.rights().list_requests(_caller(request, None), status=status, limit=200)
        fields = list(vault.policies.catalogue.names)
        return render(request, "requests.html", items=items, status_filter=status, statuses=STATUSES,
                      now=datetime.now(UTC), kinds=list(RequestKind), jurisdictions=list(Jurisdiction),
                      fields=fields, done=request.query_params.get("done"))

    @post("/", status_code=303)
    async def open_request(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        """Register a request received from a data subject."""
        req = await vault_of(request).rights().open_request(
            data.get("kind", ""), _uuid(data.get("customer", ""), "customer"), data.get("jurisdiction", ""),
            _caller(request, None), channel=(data.get("channel") or "console")[:30])
        return Redirect(f"/console/requests?done=opened:{req.id}", status_code=303)

    @post("/{request_id:uuid}/export", status_code=200)
    async def export(self, request: Request[Any, Any, Any], request_id: FromPath[uuid.UUID]) -> Response[bytes]:
        """Deliver the access/portability document (a download for the data subject; audited)."""
        rights = vault_of(request).rights()
        req = await rights.get_request(request_id, _caller(request, None))
        doc = await rights.export(req.customer_id, _caller(request), request_id=request_id)
        body = json.dumps(doc, ensure_ascii=False, indent=2, default=str).encode()
        return Response(body, media_type="application/json", headers={
            "Content-Disposition": f'attachment; filename="export-{request_id}.json"', "Cache-Control": "no-store"})

    @post("/{request_id:uuid}/rectify", status_code=303)
    async def rectify(self, request: Request[Any, Any, Any], request_id: FromPath[uuid.UUID],
                      data: Form) -> Response[Any]:
        """Correct one field (the old value stays sealed in the customer's history)."""
        rights = vault_of(request).rights()
        req = await rights.get_request(request_id, _caller(request, None))
        field = data.get("field", "")
        changed = await rights.rectify(req.customer_id, {field: data.get("value", "")}, _caller(request),
                                       request_id=request_id)
        return Redirect(f"/console/requests?done=rectified:{','.join(changed) or 'nothing'}", status_code=303)

    @post("/{request_id:uuid}/erase", status_code=303)
    async def erase(self, request: Request[Any, Any, Any], request_id: FromPath[uuid.UUID]) -> Response[Any]:
        """Erase the customer by crypto-shredding (journaled first, so a restored backup re-applies it)."""
        rights = vault_of(request).rights()
        req = await rights.get_request(request_id, _caller(request, None))
        result = await rights.erase(req.customer_id, _caller(request), request_id=request_id)
        state = "erased" if result.erased else "already_erased"
        return Redirect(f"/console/requests?status=completed&done={state}:{req.customer_id}", status_code=303)
