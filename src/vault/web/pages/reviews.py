"""Monthly access review per principal: activity, charts, anomaly flags and an audited sign-off."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.audit.reviews import ReviewService
from vault.audit.stats import KST, month_bounds, monthly_activity, off_hours
from vault.errors import InvalidInputError
from vault.web.guard import client_ip, current_user, require, vault_of
from vault.web.render import render

Form = URLEncodedBody[dict[str, str]]


def _night(request: Request[Any, Any, Any]) -> frozenset[int]:
    a = vault_of(request).settings.audit
    return off_hours(a.off_hours_start, a.off_hours_end)


def _month(value: str | None) -> str:
    if not value:
        return datetime.now(UTC).astimezone(KST).strftime("%Y-%m")
    try:
        month_bounds(value)
    except ValueError:
        raise InvalidInputError("month must be YYYY-MM") from None
    return value


class ReviewController(Controller):
    """``/console/reviews``."""

    path = "/console/reviews"
    include_in_schema = False

    @get("/")
    async def overview(self, request: Request[Any, Any, Any], month: FromQuery[str | None] = None) -> Response[str]:
        """Every principal active in the month, the flagged ones first, with sign-off state."""
        await require(request, perms.AUDIT_READ, "audit.review")
        m = _month(month)
        vault, user = vault_of(request), current_user(request)
        async with vault.db.read() as session:
            activity = await monthly_activity(session, m, night_hours=_night(request))
            signed = await ReviewService(session, vault.audit).signed(m)
        await vault.audit.record_durable(AuditEvent(
            "audit.review", Outcome.ALLOWED, user.principal.actor, client_ip=client_ip(request),
            detail=f"month={m} principals={len(activity)}"))
        return render(request, "reviews.html", month=m, activity=activity, signed=signed)

    @get("/{principal_id:uuid}")
    async def detail(self, request: Request[Any, Any, Any], principal_id: FromPath[uuid.UUID],
                     month: FromQuery[str | None] = None) -> Response[str]:
        """One principal's month: daily and hourly charts, actions, flags, sign-off."""
        await require(request, perms.AUDIT_READ, "audit.review")
        m = _month(month)
        vault, user = vault_of(request), current_user(request)
        async with vault.db.read() as session:
            activity = await monthly_activity(session, m, principal_id=principal_id, night_hours=_night(request))
            signed = (await ReviewService(session, vault.audit).signed(m)).get(principal_id)
        await vault.audit.record_durable(AuditEvent(
            "audit.review", Outcome.ALLOWED, user.principal.actor, client_ip=client_ip(request),
            detail=f"month={m} principal={principal_id}"))
        pm = activity[0] if activity else None
        start, end = month_bounds(m)
        days = list(range(1, (end - start).days + 1))
        charts = None
        if pm is not None:
            charts = {
                "daily": {"type": "line", "labels": days, "datasets": [
                    {"label": "reads", "data": [pm.daily_reads.get(d, 0) for d in days]},
                    {"label": "denials", "data": [pm.daily_denials.get(d, 0) for d in days], "color": "#b3261e"}]},
                "hourly": {"type": "bar", "labels": list(range(24)), "datasets": [
                    {"label": "reads by hour (KST)", "data": pm.hourly_reads}]},
            }
        return render(request, "review.html", month=m, pm=pm, signed=signed, principal_id=principal_id,
                      charts=charts, own=principal_id == user.principal.id)

    @post("/{principal_id:uuid}/signoff", status_code=303)
    async def sign_off(self, request: Request[Any, Any, Any], principal_id: FromPath[uuid.UUID],
                       data: Form) -> Response[Any]:
        """Sign the month off (approved, or follow-up needed); audited, once per principal and month."""
        await require(request, perms.AUDIT_SIGNOFF, "review.signoff")
        m = _month(data.get("month"))
        vault, user = vault_of(request), current_user(request)
        async with vault.db.write() as session:
            await ReviewService(session, vault.audit, night_hours=_night(request)).sign_off(
                principal_id, m, user.principal.actor, decision=data.get("decision", "approved"),
                reference=data.get("reference", "").strip() or None)
        return Redirect(f"/console/reviews/{principal_id}?month={m}", status_code=303)
