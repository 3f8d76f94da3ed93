"""The console's pages in a real browser, against a real server with real data made over the HTTP API:
audit search, pagination and streamed export with a reason; chain verification; the monthly access review
and its sign-off; a customer's consent proof with receipt verification; the data subject request queue;
the language switch; and denials for roles without the permission (audited)."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Creds
from tests.e2e.conftest import keep_shot, log_in, shot_path
from vault.audit.query import AuditFilter, search
from vault.audit.verify import create_checkpoint
from vault.bootstrap import Vault

SD = "?purpose=service_delivery"


@pytest.fixture(scope="module")
async def data(server: str, vault: Vault, principals: dict[str, Creds]) -> dict[str, Any]:
    """Customers, consents with receipts, reads, denials, requests and a signed checkpoint, made over HTTP."""
    app = principals["application"].headers
    co = principals["compliance_officer"].headers
    out: dict[str, Any] = {"customers": []}
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        for i in range(3):
            ref = f"e2e-{uuid.uuid4().hex[:8]}"
            r = await http.post(f"/v1/customers{SD}", headers=app, json={
                "customer_ref": ref, "name": ["김민준", "Lee Jiwoo", "박서연"][i], "email": f"{ref}@example.com",
                "phone": "010-9876-543" + str(i)})
            assert r.status_code == 201, r.text
            out["customers"].append(r.json()["id"])
        cid = out["customers"][0]
        r = await http.post(f"/v1/customers/{cid}/consents{SD}", headers=app, json={
            "consents": [{"purpose": "marketing_email", "action": "grant", "notice_version": "2026-11"},
                         {"purpose": "marketing_sms", "action": "grant", "channels": ["sms"],
                          "notice_version": "2026-11"}],
            "source": "web_form"})
        assert r.status_code == 201, r.text
        out["receipt"] = r.json()["receipt"]["jws"]
        r = await http.post(f"/v1/customers/{cid}/consents{SD}", headers=app, json={
            "consents": [{"purpose": "marketing_sms", "action": "withdraw", "channels": ["sms"]}], "source": "app"})
        assert r.status_code == 201, r.text
        for _ in range(60):  # more than one page of reads by the application
            assert (await http.get(f"/v1/customers/{cid}{SD}", headers=app)).status_code == 200
        for _ in range(3):  # denials: the analyst may not read customers
            assert (await http.get(f"/v1/customers/{cid}{SD}", headers=principals["analyst"].headers)).status_code \
                == 403
        received = (datetime.now(UTC) - timedelta(days=12)).isoformat()
        r = await http.post("/v1/requests", headers=co, json={
            "kind": "access", "customer_id": out["customers"][1], "jurisdiction": "pipa", "received_at": received})
        assert r.status_code == 201, r.text
        out["overdue_request"] = r.json()["id"]
        r = await http.post("/v1/requests", headers=co, json={
            "kind": "erasure", "customer_id": out["customers"][2], "jurisdiction": "gdpr"})
        assert r.status_code == 201, r.text
        out["erasure_request"] = r.json()["id"]
    async with vault.db.write() as session:
        cp = await create_checkpoint(session, vault.keyring.audit_signer)
        assert cp is not None
        out["checkpoint"] = cp.seq
    await vault.audit.drain()
    return out


async def _audit(vault: Vault, action: str) -> list[Any]:
    async with vault.db.read() as session:
        return await search(session, AuditFilter(action=action), limit=5000)


@pytest.fixture
async def officer(server: str, browser: Any, people: dict[str, str], data: dict[str, Any]) -> Any:
    """A browser page logged in as the compliance officer."""
    del data
    ctx = await browser.new_context(accept_downloads=True, viewport={"width": 1360, "height": 900})
    page = await ctx.new_page()
    page.on("dialog", lambda d: d.accept())
    csp: list[str] = []
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    await log_in(page, server, people["compliance_officer"])
    assert page.url == f"{server}/console"
    yield page
    assert not csp, f"CSP violations: {csp}"
    await ctx.close()


async def test_dashboard_and_chain_verification(officer: Any, server: str, vault: Vault,
                                                data: dict[str, Any]) -> None:
    page = officer
    # the server also signs checkpoints on its schedule: the last one is the fixture's or a later one
    shown = re.search(r"#(\d+)", await page.inner_text("#checkpoint"))
    assert shown is not None and int(shown.group(1)) >= data["checkpoint"]
    assert int(await page.inner_text("#denials-today")) >= 3
    assert int(await page.inner_text("#overdue-count")) >= 1
    await page.locator("#chart-rates[data-drawn='1']").wait_for()  # Chart.js drew it (no eval: the CSP forbids it)
    await page.click("#verify-chain")
    await page.locator("#chain-ok").wait_for()
    assert "Chain intact" in await page.inner_text("#chain-ok")
    await page.screenshot(path=shot_path("dashboard"), full_page=True)
    keep_shot("dashboard")
    verified = await _audit(vault, "audit.verify")
    assert verified and verified[-1].outcome == "allowed"


async def test_audit_search_paginates_and_exports_with_reason(officer: Any, server: str, vault: Vault,
                                                              principals: dict[str, Creds]) -> None:
    page = officer
    app_id = str(principals["application"].principal.id)
    await page.goto(f"{server}/console/audit")
    await page.select_option("#f-principal", app_id)
    await page.fill("#f-action", "customer.read")
    await page.click("#search")
    await page.wait_for_load_state()
    assert await page.locator("tr.audit-row").count() == 50
    await page.click("#more")
    await page.locator("tr.audit-row").nth(50).wait_for()
    rows = await page.locator("tr.audit-row").count()
    assert rows == 60
    seqs = [int(x) for x in await page.locator("tr.audit-row td:first-child").all_inner_texts()]
    assert seqs == sorted(seqs) and len(set(seqs)) == 60, "cursor pages neither overlap nor skip"
    await page.screenshot(path=shot_path("audit-search"), full_page=True)
    keep_shot("audit-search")

    await page.select_option("#export-reason", "internal_investigation")
    await page.fill("#export-reference", "CASE-2026-114")
    async with page.expect_download() as info:
        await page.click("#export")
    download = await info.value
    text = Path(await download.path()).read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == 60 and {r["action"] for r in table} == {"customer.read"}
    assert {r["principal_id"] for r in table} == {app_id}
    exports = await _audit(vault, "audit.export")
    assert "reason=internal_investigation" in exports[-1].detail and "ref=CASE-2026-114" in exports[-1].detail

    await page.select_option("#export-format", "ndjson")
    async with page.expect_download() as info:
        await page.click("#export")
    lines = Path(await (await info.value).path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 60 and all(json.loads(x)["action"] == "customer.read" for x in lines)

    # Without a reason the export is refused (the browser's `required` aside, the server checks).
    csrf = await page.get_attribute("#export-form input[name=_csrf]", "value")
    r = await page.request.post(f"{server}/console/audit/export", form={"_csrf": csrf, "format": "csv"})
    assert r.status == 400


async def test_monthly_review_and_sign_off(officer: Any, server: str, vault: Vault,
                                           principals: dict[str, Creds], people: dict[str, str]) -> None:
    page = officer
    app = principals["application"].principal
    await page.goto(f"{server}/console/reviews")
    row = page.locator(f"tr[data-principal='{app.name}']")
    assert await row.count() == 1
    await row.locator("a").click()
    await page.wait_for_url(f"**/console/reviews/{app.id}**")
    assert int(await page.inner_text("#reads")) >= 60
    await page.locator("#chart-daily[data-drawn='1']").wait_for()
    await page.select_option("#decision", "approved")
    await page.fill("#reference", "REV-2026-11")
    await page.click("#sign")
    await page.locator("#signed").wait_for()
    assert people["compliance_officer"] in await page.inner_text("#signed")
    await page.screenshot(path=shot_path("access-review"), full_page=True)
    keep_shot("access-review")
    signed = await _audit(vault, "review.signoff")
    assert len(signed) == 1 and f"principal={app.id}" in signed[0].detail and "ref=REV-2026-11" in signed[0].detail
    month = datetime.now(UTC).astimezone().strftime("%Y-%m")
    csrf = await page.get_attribute("header form input[name=_csrf]", "value")
    r = await page.request.post(f"{server}/console/reviews/{app.id}/signoff",
                                form={"_csrf": csrf, "month": month}, max_redirects=0)
    assert r.status in (409, 303)  # 409: signed once already (303 only if the KST month differs from local)
    # Nobody signs off their own month.
    me = (await _audit(vault, "auth.login"))[-1].principal_id
    r = await page.request.post(f"{server}/console/reviews/{me}/signoff", form={"_csrf": csrf}, max_redirects=0)
    assert r.status == 403


async def test_consent_proof_and_receipt_verification(officer: Any, server: str, vault: Vault,
                                                      data: dict[str, Any]) -> None:
    page = officer
    cid = data["customers"][0]
    await page.goto(f"{server}/console/consent?customer={cid}")
    events = page.locator("#timeline li[data-event]")
    assert await events.count() == 3  # two grants, one withdrawal
    assert await page.locator("#timeline .badge.ok", has_text="text matches").count() == 3
    # The customer's fields are masked; revealing one needs the permission for the chosen purpose and is audited.
    email = page.locator("#customer-fields tr[data-field=email]")
    assert "*" in await email.locator(".masked").inner_text()
    await email.locator("select[name=purpose]").select_option("marketing_email")
    await email.locator("button.reveal").click()
    await email.locator(".error-fragment").wait_for()
    assert await email.locator(".error-fragment").get_attribute("data-code") == "access.purpose_denied"
    await email.locator("select[name=purpose]").select_option("legal_claims")
    await email.locator("button.reveal").click()
    await email.locator(".revealed").wait_for()
    assert (await email.locator(".revealed").inner_text()).endswith("@example.com")
    reveals = await _audit(vault, "customer.reveal")
    assert [r.outcome for r in reveals][-2:] == ["denied", "allowed"] and "email" in (reveals[-1].fields or "")
    first = events.first
    await first.locator(".verify-receipt").click()
    await first.locator(".receipt-check").wait_for()
    assert await first.locator(".receipt-check").get_attribute("data-ok") == "true"
    await page.screenshot(path=shot_path("consent-proof"), full_page=True)
    keep_shot("consent-proof")

    head, body, sig = data["receipt"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["consents"][0]["decision"] = "refused"
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    await page.fill("#receipt", f"{head}.{forged_body}.{sig}")
    await page.click("#verify-pasted")
    await page.locator("#pasted-result .receipt-check").wait_for()
    assert await page.get_attribute("#pasted-result .receipt-check", "data-ok") == "false"
    await page.fill("#receipt", data["receipt"])
    await page.click("#verify-pasted")
    await page.locator("#pasted-result .receipt-check[data-ok='true']").wait_for()
    checks = await _audit(vault, "consent.receipt.verify")
    assert [c.outcome for c in checks][-3:] == ["allowed", "failed", "allowed"]


async def test_request_queue_and_erasure(officer: Any, server: str, data: dict[str, Any]) -> None:
    page = officer
    await page.goto(f"{server}/console/requests")
    overdue = page.locator(f"tr[data-request='{data['overdue_request']}']")
    assert await overdue.locator(".badge.bad").count() == 1
    await page.screenshot(path=shot_path("requests"), full_page=True)
    keep_shot("requests")
    erase = page.locator(f"tr[data-request='{data['erasure_request']}'] form button")
    await erase.click()
    await page.locator("#done").wait_for()
    assert "erased" in await page.inner_text("#done")


async def test_language_switch(officer: Any, server: str) -> None:
    page = officer
    await page.click("a[data-lang=ko]")
    await page.wait_for_load_state()
    assert "감사 로그" in await page.inner_text("header nav")
    await page.locator("#chart-rates[data-drawn='1']").wait_for()
    await page.screenshot(path=shot_path("dashboard-ko"), full_page=True)
    keep_shot("dashboard-ko")
    await page.click("a[data-lang=en]")
    await page.wait_for_load_state()
    assert "Audit log" in await page.inner_text("header nav")


async def test_roles_without_permission_are_refused_and_audited(
    server: str, browser: Any, people: dict[str, str], vault: Vault,
) -> None:
    page = await browser.new_page()
    await log_in(page, server, people["analyst"])
    r = await page.goto(f"{server}/console/audit")
    assert r is not None and r.status == 403
    assert "access.permission_denied" in await page.inner_text("#error-code")
    denied = [e for e in await _audit(vault, "audit.read") if e.outcome == "denied"]
    assert denied and denied[-1].principal_name == people["analyst"]
    await page.close()
