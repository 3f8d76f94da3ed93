"""The ε budget under concurrent queries: never overspent, each charge committed with its ledger row and audit entry."""

from __future__ import annotations

import asyncio
import json
import uuid

from sqlalchemy import func, select

from tests.conftest import Creds
from vault.access.caller import Caller
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.lib.clock import utcnow
from vault.privacy.errors import BudgetExhaustedError
from vault.privacy.models import EpsilonSpendRow, ProjectRow, StatsSnapshotRow


async def test_concurrent_queries_spend_the_budget_exactly_once_and_refuse_the_rest(
        vault: Vault, principals: dict[str, Creds]) -> None:
    analysts = vault.analysts(lambda: None)  # type: ignore[arg-type,return-value]  # no extract runs here
    officer = Caller(principals["compliance_officer"].principal, purpose="analytics", request_id="setup")
    analyst = principals["analyst"].principal
    name = f"race-{uuid.uuid4().hex[:6]}"
    project = await analysts.projects.create(name, officer, epsilon_budget=1.0, members=[analyst.id])
    async with vault.db.write() as session:
        session.add(StatsSnapshotRow(id=uuid.uuid4(), purpose="analytics", reference_date="2026-06-01", customers=3,
                                     created_at=utcnow(), created_by="tests",
                                     cells=json.dumps([["30-34", "미지정", "F", 3]])))
    request = uuid.uuid4().hex
    asker = Caller(analyst, purpose="analytics", request_id=request)

    async def ask() -> float | None:
        try:
            return (await analysts.stats.counts(name, ["gender"], {}, 0.1, asker)).epsilon_remaining
        except BudgetExhaustedError:
            return None

    answers = await asyncio.gather(*(ask() for _ in range(16)))
    assert sum(a is not None for a in answers) == 10 and answers.count(None) == 6
    async with vault.db.read() as session:
        spent = await session.scalar(select(ProjectRow.epsilon_spent).where(ProjectRow.id == project.id))
        charges = (await session.scalars(select(EpsilonSpendRow.epsilon).where(
            EpsilonSpendRow.project_id == project.id))).all()
        audited = dict((await session.execute(select(AuditEntryRow.outcome, func.count()).where(
            AuditEntryRow.request_id == request, AuditEntryRow.action == "stats.count")
            .group_by(AuditEntryRow.outcome))).all())
    assert spent is not None and abs(spent - 1.0) < 1e-9 and len(charges) == 10
    assert audited == {"allowed": 10, "denied": 6}
