"""Shared segments: versions, the diff of expressions and of membership, sign-off per department, veto.

Every step goes through :class:`vault.segments.SegmentRunner` (the same guard and audit entries as
``/v1/segments``); this module only translates forms to calls.
"""

from __future__ import annotations

import difflib
import re
import uuid
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect

from vault.access.caller import Caller
from vault.access.errors import PermissionDeniedError, PurposeDeniedError
from vault.errors import AccessDeniedError, InvalidInputError, NotFoundError
from vault.segments.views import APPROVERS, VETOER
from vault.web.guard import client_ip, current_user, vault_of
from vault.web.render import render

if TYPE_CHECKING:
    from vault.segments.views import VersionView

Form = URLEncodedBody[dict[str, str]]
VETOABLE = ("draft", "approved", "active")
MAX_SAMPLE = 5
_TOKEN = re.compile(r"\s+|\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[\w.]+|[^\w\s]+")


def _caller(request: Request[Any, Any, Any], purpose: str | None = None) -> Caller:
    return Caller(current_user(request).principal, purpose=purpose, client_ip=client_ip(request))


def _ref(name: str, version: int) -> str:
    return f"{name}@{version}"


def expression_diff(old: str, new: str) -> list[tuple[str, str]]:
    """Token-level diff of two expressions: ``(op, text)`` with op ``same``, ``del`` or ``ins``."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("ins", "".join(b[j1:j2])))
    return out


def _signoffs(v: VersionView) -> list[dict[str, Any]]:
    """One row per approving department: who approved and when, or pending."""
    rows = []
    for role in APPROVERS:
        event = next((e for e in v.events if e.action == "approve" and e.role == role), None)
        rows.append({"role": role, "event": event})
    return rows


class SegmentController(Controller):
    """``/console/segments``."""

    path = "/console/segments"
    include_in_schema = False

    @get("/")
    async def versions(self, request: Request[Any, Any, Any]) -> Response[str]:
        """Every segment with its versions (newest first), status and sign-offs."""
        items = await vault_of(request).segments().versions(_caller(request))
        by_name: dict[str, list[VersionView]] = {}
        for v in items:
            by_name.setdefault(v.name, []).append(v)
        return render(request, "segments.html", segments=by_name, approvers=APPROVERS)

    @get("/{name:str}/{version:int}")
    async def version(self, request: Request[Any, Any, Any], name: FromPath[str], version: FromPath[int],
                      against: FromQuery[int | None] = None) -> Response[str]:
        """One version: its expression against another version's, sign-off per department, veto, events."""
        svc = vault_of(request).segments()
        caller = _caller(request)
        v = await svc.get(_ref(name, version), caller)
        others = [o for o in await svc.versions(caller, name) if o.version != version]
        base = next((o for o in others if o.version == against), None) if against is not None else next(
            (o for o in others if o.version < version), None)
        role = current_user(request).principal.role
        return render(
            request, "segment.html", v=v, others=others, base=base, signoffs=_signoffs(v), role=role,
            diff=expression_diff(base.expression, v.expression) if base else None,
            can_approve=role in APPROVERS and v.status == "draft" and role not in v.approvals,
            can_veto=role == VETOER and v.status in VETOABLE, done=request.query_params.get("done"))

    @get("/{name:str}/{version:int}/compare")
    async def compare(self, request: Request[Any, Any, Any], name: FromPath[str], version: FromPath[int],
                      against: FromQuery[int]) -> Response[str]:
        """Membership of this version against another, evaluated now (htmx fragment)."""
        vault = vault_of(request)
        svc = vault.segments()
        caller = _caller(request)
        cmp = await svc.compare(_ref(name, against), _ref(name, version), caller, sample=MAX_SAMPLE)
        purposes = [p for p in vault.policies.purposes
                    if vault.policies.access.field_visibility(caller.role, p.id)]
        return render(request, "segment_compare.html", cmp=cmp, purposes=purposes,
                      may_see=svc.may_see_customers(caller),
                      sample=[("joined", c) for c in cmp.joined.ids] + [("left", c) for c in cmp.left.ids])

    @post("/sample", status_code=200)
    async def sample(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The sampled members' fields, masked, read for the purpose the user names (each read audited by
        the customer service; a customer the purpose does not cover is shown as such)."""
        form = await request.form()
        purpose = str(form.get("purpose") or "") or None
        ids: list[uuid.UUID] = []
        for raw in form.getall("id")[: 2 * MAX_SAMPLE]:
            try:
                ids.append(uuid.UUID(str(raw)))
            except ValueError:
                raise InvalidInputError("id must be a UUID") from None
        vault = vault_of(request)
        caller = _caller(request, purpose)
        rows: list[dict[str, Any]] = []
        async with vault.db.read() as session:
            customers = vault.customers(session)
            for cid in ids:
                try:
                    view = await customers.get(cid, caller, masked=True)
                    rows.append({"id": cid, "fields": view.fields})
                except NotFoundError:
                    rows.append({"id": cid, "missing": "not_found"})
                except (PermissionDeniedError, PurposeDeniedError):
                    raise  # the role may not read customers for this purpose at all
                except AccessDeniedError:  # this customer: no lawful basis, restricted or objected (audited)
                    rows.append({"id": cid, "missing": "not_covered"})
        return render(request, "segment_sample.html", rows=rows, purpose=purpose)

    @post("/{name:str}/{version:int}/approve", status_code=303)
    async def approve(self, request: Request[Any, Any, Any], name: FromPath[str],
                      version: FromPath[int]) -> Response[Any]:
        """Sign the version off for the user's department (approved once all three signed)."""
        v = await vault_of(request).segments().approve(_ref(name, version), _caller(request))
        return Redirect(f"/console/segments/{name}/{version}?done=approved:{v.status}", status_code=303)

    @post("/{name:str}/{version:int}/veto", status_code=303)
    async def veto(self, request: Request[Any, Any, Any], name: FromPath[str], version: FromPath[int],
                   data: Form) -> Response[Any]:
        """Compliance veto with a reason (the version can never become or stay active)."""
        await vault_of(request).segments().veto(_ref(name, version), data.get("reason", ""), _caller(request))
        return Redirect(f"/console/segments/{name}/{version}?done=vetoed", status_code=303)
