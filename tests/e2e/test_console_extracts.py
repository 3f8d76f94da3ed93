"""Extract registry and ε ledger pages in a real browser: an analyst sees only their projects' extracts and
charges, a compliance officer sees every project's; the figures match what the API reported."""

from __future__ import annotations

import asyncio
import csv
import random
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Creds
from tests.e2e.conftest import keep_shot, log_in, shot_path
from vault.access.caller import Caller
from vault.audit.entry import Actor
from vault.audit.query import AuditFilter, search
from vault.bootstrap import Vault
from vault.customers.importer import CONSENT_PROOF_COLUMNS, HEADER

SPEC: dict[str, Any] = {"quasi_identifiers": ["birth_date", "gender", {"field": "postal_code", "max": "*"}],
                        "sensitive_attributes": ["city"], "k": 5, "l": 2, "max_suppression": 0.1}
CITIES = (("서울특별시", ("강남구", "마포구", "송파구")), ("부산광역시", ("해운대구", "수영구")),
          ("경기도", ("성남시", "수원시")))


def _customers(n: int) -> list[list[str]]:
    rng = random.Random(3)
    prefix = "EX" + uuid.uuid4().hex[:5]
    rows = []
    for i in range(n):
        city, districts = rng.choice(CITIES)
        values = {"customer_ref": f"{prefix}-{i:04d}", "name": "김민준", "email": f"{prefix}{i}@example.com",
                  "birth_date": (date(1950, 1, 1) + timedelta(days=rng.randint(0, 50 * 365))).isoformat(),
                  "gender": rng.choice("FM"), "postal_code": f"{rng.randint(1000, 63999):05d}", "city": city,
                  "district": rng.choice(districts), "analytics": "y"}
        rows.append([values.get(c, "") for c in HEADER] + ["2026-11-01", "2026-11"])
    return rows


async def _wait(http: httpx.AsyncClient, who: Creds, job: str) -> dict[str, Any]:
    for _ in range(1200):
        r = await http.get(f"/v1/extracts/{job}", headers=who.headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("done", "failed"):
            return dict(r.json())
        await asyncio.sleep(0.1)
    raise AssertionError("extract did not finish")


@pytest.fixture(scope="module")
async def projects(server: str, vault: Vault, principals: dict[str, Creds], people: dict[str, str],
                   tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Project A (the API analyst and the console analyst) with an extract and two DP charges; project B
    (another analyst only) with an extract and one charge. Made over HTTP."""
    path = tmp_path_factory.mktemp("ext") / "customers.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*HEADER, *CONSENT_PROOF_COLUMNS])
        w.writerows(_customers(400))
    report = await vault.importer().run(path, Caller(None, purpose="service_delivery", operator="tests"), workers=0)
    assert report.created == 400
    async with vault.db.write() as session:
        svc = vault.principals(session)
        other, key = await svc.create(f"analyst-b-{uuid.uuid4().hex[:4]}", "analyst", Actor.cli("tests"))
        console_analyst = next(p for p in await svc.list() if p.name == people["analyst"])
    assert key is not None
    b_analyst = Creds(other, key.secret)
    officer, analyst = principals["compliance_officer"], principals["analyst"]
    out: dict[str, Any] = {"a": f"retention-{uuid.uuid4().hex[:4]}", "b": f"pricing-{uuid.uuid4().hex[:4]}"}
    async with httpx.AsyncClient(base_url=server, timeout=60) as http:
        for key_, budget, members in (("a", 1.0, [analyst.principal.id, console_analyst.id]),
                                      ("b", 2.0, [b_analyst.principal.id])):
            r = await http.post("/v1/projects", headers=officer.headers, json={
                "name": out[key_], "epsilon_budget": budget, "members": [str(m) for m in members]})
            assert r.status_code == 201, r.text
            out[f"{key_}_id"] = r.json()["id"]
        for key_, who in (("a", analyst), ("b", b_analyst)):
            r = await http.post("/v1/extracts", headers=who.headers,
                                json={"spec": {**SPEC, "project": out[key_]}, "format": "csv"})
            assert r.status_code == 202, r.text
            out[f"{key_}_job"] = await _wait(http, who, r.json()["id"])
            assert out[f"{key_}_job"]["status"] == "done", out[f"{key_}_job"]
        assert (await http.post("/v1/stats/snapshots", headers=analyst.headers)).status_code == 201
        for key_, who, eps in (("a", analyst, "0.1"), ("a", analyst, "0.25"), ("b", b_analyst, "0.5")):
            r = await http.get("/v1/stats/counts", headers=who.headers,
                               params={"project": out[key_], "by": "gender", "epsilon": eps})
            assert r.status_code == 200, r.text
    return out


async def _audit(vault: Vault, action: str) -> list[Any]:
    async with vault.db.read() as session:
        return await search(session, AuditFilter(action=action), limit=5000)


async def _page_as(browser: Any, server: str, name: str) -> tuple[Any, Any, list[str]]:
    ctx = await browser.new_context(viewport={"width": 1360, "height": 900})
    page = await ctx.new_page()
    csp: list[str] = []
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    await log_in(page, server, name)
    assert page.url == f"{server}/console"
    return ctx, page, csp


async def test_officer_sees_every_project(server: str, browser: Any, people: dict[str, str],
                                          projects: dict[str, Any]) -> None:
    ctx, page, csp = await _page_as(browser, server, people["compliance_officer"])
    await page.goto(f"{server}/console/extracts")
    for key_ in ("a", "b"):
        job = projects[f"{key_}_job"]
        row = page.locator(f"tr[data-job='{job['id']}']")
        assert await row.count() == 1
        assert await row.locator(".file-sha").inner_text() == job["file_sha256"]
        assert await row.locator(".spec-sha").get_attribute("title") == job["spec_sha256"]
        assert (await row.locator(".rows").inner_text()).split()[0] == str(job["rows"])
        assert job["requested_by"] in await row.inner_text()
    await page.screenshot(path=shot_path("extracts"), full_page=True)
    keep_shot("extracts")

    await page.goto(f"{server}/console/budgets")
    await page.locator("#chart-budgets[data-drawn='1']").wait_for()
    a = page.locator(f"tr[data-project='{projects['a']}']")
    assert (await a.locator(".budget").inner_text(), await a.locator(".spent").inner_text(),
            (await a.locator(".remaining").inner_text()).strip()) == ("1", "0.35", "0.65")
    assert await page.locator(f"tr[data-project='{projects['b']}']").count() == 1
    await a.locator("a").click()
    await page.wait_for_url(f"**/console/budgets/{projects['a_id']}")
    assert sorted(await page.locator("tr.charge .epsilon").all_inner_texts()) == ["0.1", "0.25"]
    assert await page.inner_text("#remaining") == "0.65"
    await page.locator("#chart-ledger[data-drawn='1']").wait_for()
    await page.screenshot(path=shot_path("epsilon-ledger"), full_page=True)
    keep_shot("epsilon-ledger")
    assert not csp, f"CSP violations: {csp}"
    await ctx.close()


async def test_analyst_sees_only_their_projects(server: str, browser: Any, people: dict[str, str], vault: Vault,
                                                projects: dict[str, Any]) -> None:
    ctx, page, csp = await _page_as(browser, server, people["analyst"])
    await page.goto(f"{server}/console/extracts")
    assert await page.locator(f"tr[data-job='{projects['a_job']['id']}']").count() == 1
    assert await page.locator(f"tr[data-job='{projects['b_job']['id']}']").count() == 0
    assert {x for x in await page.locator("tr[data-job]").evaluate_all(
        "rows => rows.map(r => r.dataset.project)")} == {projects["a"]}
    await page.goto(f"{server}/console/budgets")
    assert [await r.get_attribute("data-project") for r in await page.locator("tr[data-project]").all()] == \
        [projects["a"]]
    await page.goto(f"{server}/console/budgets/{projects['a_id']}")
    assert sorted(await page.locator("tr.charge .epsilon").all_inner_texts()) == ["0.1", "0.25"]
    r = await page.goto(f"{server}/console/budgets/{projects['b_id']}")  # not a member: 404, audited
    assert r is not None and r.status == 404
    denied = [e for e in await _audit(vault, "project.read") if e.outcome == "denied"]
    assert denied and denied[-1].principal_name == people["analyst"] and projects["b_id"] in denied[-1].detail
    assert not csp, f"CSP violations: {csp}"
    await ctx.close()


async def test_other_roles_are_refused(server: str, browser: Any, people: dict[str, str], vault: Vault) -> None:
    ctx, page, _ = await _page_as(browser, server, people["marketing"])
    for url in ("/console/extracts", "/console/budgets"):
        r = await page.goto(f"{server}{url}")
        assert r is not None and r.status == 403, url
    denied = [e for e in await _audit(vault, "project.list") if e.outcome == "denied"]
    assert denied and denied[-1].principal_name == people["marketing"]
    await ctx.close()
