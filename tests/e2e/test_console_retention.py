"""The dashboard's retention card in a real browser (issue 12 §3): customers and fields past retention that are
not destroyed yet, customers held, and archive records past their statutory period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from tests.e2e.conftest import log_in, shot_path
from tests.integration.test_rights import OP, new_customer
from vault.bootstrap import Vault
from vault.customers.models import CustomerRow


async def test_dashboard_shows_overdue_destruction(server: str, browser: Any, people: dict[str, str],
                                                   vault: Vault) -> None:
    overdue, _ = await new_customer(vault)
    async with vault.db.write() as session:
        await vault.customers(session).soft_delete(overdue, OP)
        await session.execute(update(CustomerRow).where(CustomerRow.id == overdue)
                              .values(deleted_at=datetime.now(UTC) - timedelta(days=4000)))
    expected = await vault.retention().overdue()
    assert expected.customers >= 1 and expected.fields >= 1
    ctx = await browser.new_context(viewport={"width": 1360, "height": 900})
    page = await ctx.new_page()
    await log_in(page, server, people["compliance_officer"])
    assert int(await page.inner_text("#retention-overdue")) >= 1
    assert int(await page.inner_text("#retention-fields")) >= expected.fields
    assert "due since" in await page.inner_text("#retention-card")
    await page.screenshot(path=shot_path("dashboard-retention"), full_page=True)
    await ctx.close()
    # a role without the audit permission does not see the card
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await log_in(page, server, people["crm_agent"])
    assert await page.locator("#retention-card").count() == 0
    await ctx.close()
