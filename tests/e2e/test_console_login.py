"""Logging in to the console in a real browser: cookies, lockout, CSRF, logout, TOTP; every step audited."""

from __future__ import annotations

import time
from typing import Any

import pyotp

from tests.e2e.conftest import PASSWORD, keep_shot, log_in, shot_path
from vault.audit.query import AuditFilter, search
from vault.bootstrap import Vault


async def _audit(vault: Vault, action: str, name: str | None = None) -> list[Any]:
    async with vault.db.read() as session:
        rows = await search(session, AuditFilter(action=action), limit=1000)
    return [r for r in rows if name is None or r.principal_name == name]


async def test_login_sets_strict_httponly_cookie_and_shows_dashboard(
    server: str, browser: Any, people: dict[str, str], vault: Vault,
) -> None:
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await page.goto(f"{server}/console")
    assert page.url.startswith(f"{server}/console/login"), "unauthenticated visit goes to the login page"
    await page.screenshot(path=shot_path("login"))
    keep_shot("login")
    await log_in(page, server, people["compliance_officer"])
    assert page.url == f"{server}/console"
    assert people["compliance_officer"] in await page.inner_text("#welcome")
    cookie = next(c for c in await ctx.cookies() if c["name"] == "vault_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert not cookie["secure"], "plain http://127.0.0.1: Secure is off in auto mode"
    assert await page.evaluate("document.cookie") == "" or "vault_console" not in await page.evaluate("document.cookie")
    ok = await _audit(vault, "auth.login", people["compliance_officer"])
    assert [r.outcome for r in ok] == ["allowed"]
    assert await _audit(vault, "auth.session.start", people["compliance_officer"])
    await page.click("#logout")
    await page.wait_for_url(f"{server}/console/login")
    logout = await _audit(vault, "auth.logout", people["compliance_officer"])
    assert [r.detail for r in logout] == ["logout"]
    await page.goto(f"{server}/console")
    assert page.url.startswith(f"{server}/console/login"), "the ended session no longer works"
    await ctx.close()


async def test_lockout_after_five_failures(server: str, browser: Any, people: dict[str, str], vault: Vault) -> None:
    name = people["sales"]
    page = await browser.new_page()
    for _ in range(5):
        await log_in(page, server, name, "wrong password!!")
        assert await page.inner_text("#login-message") in ("Invalid name or password.",)
    await log_in(page, server, name, PASSWORD)  # the right password no longer helps
    assert "locked" in (await page.inner_text("#login-message")).lower()
    assert page.url.startswith(f"{server}/console/login")
    await page.screenshot(path=shot_path("login-locked"))
    denied = await _audit(vault, "auth.login", name)
    assert [r.outcome for r in denied] == ["denied"] * 6
    assert [r.detail for r in denied][-2:] == ["bad password; account locked", "locked"]
    await page.close()


async def test_csrf_refused_and_audited(server: str, browser: Any, people: dict[str, str], vault: Vault) -> None:
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await log_in(page, server, people["admin"])
    assert page.url == f"{server}/console"
    # A POST with the session cookie but without the form token (what a forged form would send).
    r = await page.request.post(f"{server}/console/logout", form={"x": "1"}, max_redirects=0)
    assert r.status == 403
    r = await page.request.post(f"{server}/console/account/totp", form={"_csrf": "0" * 64}, max_redirects=0)
    assert r.status == 403
    refused = await _audit(vault, "console.csrf", people["admin"])
    assert len(refused) == 2 and all(x.outcome == "denied" for x in refused)
    # The session survived the forged requests: the real form (with its token) still logs out.
    await page.goto(f"{server}/console")
    assert page.url == f"{server}/console"
    # The login form is protected too (double-submit token): a POST without it is refused.
    r = await ctx.request.post(f"{server}/console/login", form={"name": people["admin"], "password": PASSWORD},
                               max_redirects=0)
    assert r.status == 403
    await ctx.close()


async def test_totp_enrolment_and_second_factor(
    server: str, browser: Any, people: dict[str, str], vault: Vault,
) -> None:
    name = people["crm_agent"]
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await log_in(page, server, name)
    await page.goto(f"{server}/console/account")
    await page.click("#start-totp")
    secret = (await page.inner_text("#totp-secret")).strip()
    totp = pyotp.TOTP(secret)
    await page.fill("#code", totp.now())
    await page.click("#confirm-totp")
    assert "TOTP" in await page.inner_text("#totp-state")
    await page.click("#logout")
    await page.wait_for_url(f"{server}/console/login")

    await log_in(page, server, name)
    assert page.url == f"{server}/console/login/totp"
    await page.goto(f"{server}/console/account")  # pages stay closed until the code is given
    assert page.url == f"{server}/console/login/totp"
    await page.fill("#code", "000000" if totp.now() != "000000" else "111111")
    await page.click("#verify")
    assert "Wrong" in await page.inner_text("[role=alert]")
    await page.fill("#code", totp.at(time.time() + 30))  # the next step: valid within the drift window
    await page.click("#verify")
    await page.wait_for_url(f"{server}/console")
    steps = [r.outcome for r in await _audit(vault, "auth.totp", name)]
    assert steps == ["denied", "allowed"]
    assert await _audit(vault, "auth.totp.enable", name)
    await ctx.close()


async def test_demo_writes_a_console_login_per_role(server: str, browser: Any, settings: Any) -> None:
    import subprocess
    import sys

    from tests.e2e.conftest import server_env

    creds = settings.var_dir / "demo-credentials.txt"
    done = subprocess.run([sys.executable, "-m", "vault.cli.main", "demo", "--count", "5", "--credentials",
                           str(creds)], env=server_env(settings), capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    logins = {cols[1]: (cols[2], cols[3]) for cols in (line.split("\t") for line in creds.read_text().splitlines())
              if cols[0] == "console"}
    keys = [line for line in creds.read_text().splitlines() if not line.startswith("console\t")]
    assert set(logins) == {"application", "analyst", "marketing", "sales", "crm_agent", "compliance_officer",
                           "admin"} and len(keys) == 7
    name, password = logins["compliance_officer"]
    page = await browser.new_page()
    await log_in(page, server, name, password)
    assert page.url == f"{server}/console" and name in await page.inner_text("#welcome")
    await page.close()
    # the demo leaves core-customers@2 signed by marketing only: the demo sales user can sign it off
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await log_in(page, server, *logins["sales"])
    await page.goto(f"{server}/console/segments/core-customers/2")
    assert await page.get_attribute("#status", "data-status") == "draft"
    assert await page.locator("tr[data-dept='marketing'][data-approved='1']").count() == 1
    assert await page.locator("tr[data-dept='sales'] #approve").count() == 1
    await ctx.close()
    # and a demo analysis project whose ε ledger the demo analyst sees
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await log_in(page, server, *logins["analyst"])
    await page.goto(f"{server}/console/budgets")
    row = page.locator("tr[data-project='demo-churn']")
    assert (await row.locator(".budget").inner_text(), await row.locator(".spent").inner_text()) == ("3", "1")
    await row.locator("a").click()
    await page.wait_for_load_state()
    assert await page.locator("tr.charge").count() == 3
    await ctx.close()
