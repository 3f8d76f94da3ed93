"""A customer's consent proof: the timeline of decisions with notice versions and texts, and receipt checks."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, URLEncodedBody

from vault.access.caller import Caller
from vault.audit.entry import AuditEvent, Outcome
from vault.consent.receipts import verify_receipt
from vault.errors import InvalidInputError
from vault.web.guard import client_ip, current_user, vault_of
from vault.web.render import render

Form = URLEncodedBody[dict[str, str]]
PROOF_PURPOSE = "legal_claims"  # proving consent to a regulator or in a dispute
MAX_RECEIPT = 20_000


def _caller(request: Request[Any, Any, Any]) -> Caller:
    return Caller(current_user(request).principal, purpose=PROOF_PURPOSE, client_ip=client_ip(request))


def _notices(request: Request[Any, Any, Any]) -> dict[tuple[str, str], Any]:
    out = {}
    for p in vault_of(request).policies.purposes:
        for n in p.notices:
            out[p.id, n.version] = n
    return out


class ConsentProofController(Controller):
    """``/console/consent``."""

    path = "/console/consent"
    include_in_schema = False

    @get("/")
    async def proof(self, request: Request[Any, Any, Any], customer: FromQuery[str | None] = None) -> Response[str]:
        """Find a customer by id; show their current state and every decision, oldest first."""
        vault = vault_of(request)
        purposes = {p.id: p for p in vault.policies.purposes}
        if not customer:
            return render(request, "consent.html", customer="", events=None, state=None, purposes=purposes)
        try:
            cid = uuid.UUID(customer.strip())
        except ValueError:
            raise InvalidInputError("customer must be a UUID") from None
        caller = _caller(request)
        async with vault.db.read() as session:
            view = await vault.customers(session).get(cid, caller, masked=True)
            svc = vault.consent_reads(session)
            state = await svc.state(cid, caller)
            events = await svc.history(cid, caller)
        return render(request, "consent.html", customer=str(cid), events=events, state=state, view=view,
                      notices=_notices(request), purposes=purposes)

    @post("/reveal", status_code=200)
    async def reveal(self, request: Request[Any, Any, Any], data: Form) -> Response[str]:
        """Show one field in clear: needs the permission for the chosen purpose; audited (htmx fragment)."""
        vault, user = vault_of(request), current_user(request)
        try:
            cid = uuid.UUID(data.get("customer", ""))
        except ValueError:
            raise InvalidInputError("customer must be a UUID") from None
        name, purpose = data.get("field", ""), data.get("purpose", "") or None
        caller = Caller(user.principal, purpose=purpose, client_ip=client_ip(request))
        async with vault.db.read() as session:
            value = await vault.customers(session).reveal(cid, name, caller)
        return render(request, "revealed.html", name=name, value=value, purpose=purpose)

    @post("/verify", status_code=200)
    async def verify(self, request: Request[Any, Any, Any], data: Form) -> Response[str]:
        """Verify a receipt (an event's stored receipt, or one pasted in) against the key and the ledger."""
        vault, user = vault_of(request), current_user(request)
        event = data.get("event_id", "").strip()
        token = data.get("receipt", "").strip()[:MAX_RECEIPT]
        async with vault.db.read() as session:
            if event:
                try:
                    event_id = uuid.UUID(event)
                except ValueError:
                    raise InvalidInputError("event_id must be a UUID") from None
                token = (await vault.consent_reads(session).receipt(event_id, _caller(request))).jws
            if not token:
                raise InvalidInputError("paste a receipt (compact JWS) or pick an event")
            check = await verify_receipt(session, vault.keyring, token)
        await vault.audit.record_durable(AuditEvent(
            "consent.receipt.verify", Outcome.ALLOWED if check.ok else Outcome.FAILED, user.principal.actor,
            purpose=PROOF_PURPOSE, customer_id=uuid.UUID(check.customer_id) if check.customer_id and
            _is_uuid(check.customer_id) else None, client_ip=client_ip(request),
            detail=f"receipt {check.receipt_id or '?'}: " + ("valid" if check.ok else "; ".join(check.problems)[:300])))
        return render(request, "receipt_check.html", check=check)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
