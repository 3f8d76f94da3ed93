"""Extracts and differential-privacy budgets: the extract registry and each analysis project's ε ledger.

Reads go through :mod:`vault.privacy` (``ExtractJobs.registry``, ``ProjectService.projects`` / ``ledger``):
compliance officers see every project and extract, analysts only their projects'; every denial is
audited by the privacy services' guard.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, Response, get
from litestar.params import FromPath, FromQuery

from vault.access.caller import Caller
from vault.lib.clock import as_utc
from vault.web.guard import client_ip, current_user
from vault.web.render import KST, render

if TYPE_CHECKING:
    from vault.bootstrap import Analysts
    from vault.privacy.models import EpsilonSpendRow

LEDGER_ROWS = 500


@dataclass(frozen=True, slots=True)
class Charge:
    """One ε ledger entry and the budget left after it (against the current budget)."""

    row: EpsilonSpendRow
    remaining_after: float


def _caller(request: Request[Any, Any, Any]) -> Caller:
    return Caller(current_user(request).principal, purpose="analytics", client_ip=client_ip(request))


def _analysts(request: Request[Any, Any, Any]) -> Analysts:
    found: Analysts = request.app.state.analysts
    return found


class ExtractRegistryController(Controller):
    """``/console/extracts`` and ``/console/budgets``."""

    path = "/console"
    include_in_schema = False

    @get("/extracts")
    async def registry(self, request: Request[Any, Any, Any], project: FromQuery[str | None] = None) -> Response[str]:
        """Who extracted what, when, for which purpose and project: rows, spec hash, file SHA-256."""
        analysts, caller = _analysts(request), _caller(request)
        projects = await analysts.projects.projects(caller)
        chosen = next((p for p in projects if str(p.id) == project), None)
        jobs = await analysts.jobs.registry(caller, project_id=chosen.id if chosen else None, limit=200)
        return render(request, "extracts.html", jobs=jobs, projects=projects, chosen=chosen,
                      sees_all=analysts.projects.sees_all(caller))

    @get("/budgets")
    async def budgets(self, request: Request[Any, Any, Any]) -> Response[str]:
        """Every visible project's ε budget, spent and remaining."""
        projects = await _analysts(request).projects.projects(_caller(request))
        chart = {"type": "bar", "labels": [p.name for p in projects], "datasets": [
            {"label": "ε spent", "data": [round(p.epsilon_spent, 4) for p in projects], "color": "#a35d00"},
            {"label": "ε remaining", "data": [round(p.epsilon_remaining, 4) for p in projects], "color": "#1e7a46"},
        ]}
        return render(request, "budgets.html", projects=projects, chart=chart)

    @get("/budgets/{project_id:uuid}")
    async def ledger(self, request: Request[Any, Any, Any], project_id: FromPath[uuid.UUID]) -> Response[str]:
        """One project's ε ledger: every query's charge, newest first, with the budget left after it."""
        analysts, caller = _analysts(request), _caller(request)
        project = await analysts.projects.get(project_id, caller)
        rows = await analysts.projects.ledger(project_id, caller, LEDGER_ROWS)
        # Walk back from what is spent now: the remaining ε after the newest charge, the one before, ...
        spent = project.epsilon_spent
        entries: list[Charge] = []
        for row in rows:
            entries.append(Charge(row, max(0.0, project.epsilon_budget - spent)))
            spent -= row.epsilon
        oldest_first = entries[::-1]
        labels = [as_utc(e.row.spent_at).astimezone(KST).strftime("%m-%d %H:%M") for e in oldest_first]
        data = [round(e.remaining_after, 4) for e in oldest_first]
        if len(rows) < LEDGER_ROWS:  # the whole ledger: the line starts at the full budget
            labels.insert(0, "")
            data.insert(0, round(project.epsilon_budget, 4))
        chart = {"type": "line", "labels": labels, "datasets": [{"label": "ε remaining", "data": data}]}
        return render(request, "ledger.html", project=project, entries=entries, chart=chart,
                      complete=len(rows) < LEDGER_ROWS)
