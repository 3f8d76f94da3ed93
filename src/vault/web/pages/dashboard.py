"""The dashboard: chain status and last checkpoint, requests due, consent rates, denials today, alerts, and
destruction overdue under retention (customers and fields past retention not yet destroyed, holds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, get

from vault.access import permissions as perms
from vault.access.caller import Caller
from vault.audit.entry import AuditEvent, Outcome
from vault.audit.stats import KST, alerts, chain_head, count_denials, denials_by_action
from vault.consent.stats import monthly_rates
from vault.web.guard import client_ip, current_user, may, vault_of
from vault.web.render import language, render

DUE_SOON = timedelta(days=3)


class DashboardController(Controller):
    """``/console``."""

    path = "/console"
    include_in_schema = False

    @get("/")
    async def dashboard(self, request: Request[Any, Any, Any]) -> Response[str]:
        """What a compliance officer checks first; other roles see only the cards their role allows."""
        vault, user = vault_of(request), current_user(request)
        now = datetime.now(UTC)
        today = now.astimezone(KST).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        ctx: dict[str, Any] = {"can_audit": may(request, perms.AUDIT_READ),
                               "can_requests": may(request, perms.REQUESTS_READ)}
        if ctx["can_audit"]:
            async with vault.db.read() as session:
                ctx["head"] = await chain_head(session)
                ctx["denials_today"] = await count_denials(session, today)
                ctx["denials_by_action"] = sorted((await denials_by_action(session, today)).items(),
                                                  key=lambda kv: -kv[1])[:8]
                ctx["alerts"] = await alerts(session, now - timedelta(days=7))
                rates = await monthly_rates(session, now, months=12)
            purposes = {p.id: p for p in vault.policies.purposes}
            ctx["rates_chart"] = {"type": "line", "percent": True, "labels": rates.months, "datasets": [
                {"label": purposes[p].title.model_dump().get(language(request), p)
                 if p in purposes else p, "data": values} for p, values in rates.rates.items()]}
            ctx["rates"] = rates
            ctx["retention"] = await vault.retention().overdue()
            await vault.audit.record_durable(AuditEvent(
                "audit.dashboard", Outcome.ALLOWED, user.principal.actor, client_ip=client_ip(request)))
        if ctx["can_requests"]:
            caller = Caller(user.principal, client_ip=client_ip(request))
            queue = await vault.rights().list_requests(caller, status="open", limit=500)
            ctx["overdue"] = [r for r in queue if r.overdue]
            ctx["due_soon"] = [r for r in queue if not r.overdue and r.due_at - now <= DUE_SOON]
            ctx["open_requests"] = len(queue)
        return render(request, "dashboard.html", now=now, **ctx)
