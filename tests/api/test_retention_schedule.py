"""Issue 12 §3: `vault serve` runs retention on a schedule (the app starts it; every run audited)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from tests.integration.test_rights import new_customer
from vault.api.app import create_app
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.config import Settings
from vault.customers.models import CustomerRow


async def test_the_server_erases_customers_past_retention_on_its_schedule(vault: Vault, settings: Settings) -> None:
    cid, _ = await new_customer(vault)
    async with vault.db.write() as session:  # the relationship ended six years ago
        await session.execute(update(CustomerRow).where(CustomerRow.id == cid).values(
            status="deleted", deleted_at=datetime.now(UTC) - timedelta(days=6 * 365)))
    fast = settings.model_copy(update={"rights": settings.rights.model_copy(update={"retention_every_s": 0.3})})
    async with AsyncTestClient(app=create_app(fast)):
        for _ in range(100):
            await asyncio.sleep(0.2)
            async with vault.db.read() as session:
                row = await session.get(CustomerRow, cid, populate_existing=True)
                if row is not None and row.wrapped_dek is None:
                    break
    assert row is not None and row.wrapped_dek is None and row.erased_at is not None
    async with vault.db.read() as session:
        runs = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.action == "retention.erase", AuditEntryRow.principal_name == "scheduler"))).all()
    assert runs and any(r.subject_count >= 1 for r in runs)


def test_the_schedule_is_daily_by_default_and_can_be_turned_off() -> None:
    from vault.config import RightsSettings

    assert RightsSettings().retention_every_s == 86_400  # type: ignore[call-arg]
    assert RightsSettings(retention_every_s=0).retention_every_s == 0  # type: ignore[call-arg]
