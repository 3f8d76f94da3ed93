"""Segment pages in a real browser: versions, the diff of expressions and of membership with a masked sample,
sign-off by three department users (the version is approved only after the third), a compliance veto with a
required reason, and CSRF on the sign-off forms."""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Creds
from tests.e2e.conftest import keep_shot, log_in, shot_path
from vault.access.caller import Caller
from vault.audit.query import AuditFilter, search
from vault.bootstrap import Vault
from vault.customers.importer import CONSENT_PROOF_COLUMNS, HEADER
from vault.segments.behaviour import TRANSACTION_HEADER

OPERATOR = Caller(None, purpose="service_delivery", operator="tests")
NAME = "e2e-core"


def _write(path: Path, header: list[str] | tuple[str, ...], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
async def segment(vault: Vault, principals: dict[str, Creds], tmp_path_factory: pytest.TempPathFactory) -> str:
    """40 customers with purchases; NAME@1 active, NAME@2 (tighter) and NAME@3 drafts."""
    tmp = tmp_path_factory.mktemp("seg-e2e")
    rng = random.Random(5)
    refs = [f"SEG-{i:03d}" for i in range(40)]
    rows = []
    for ref in refs:
        values = {"customer_ref": ref, "name": rng.choice(["김민준", "Lee Jiwoo", "박서연", "Kim Hana"]),
                  "email": f"{ref.lower()}@example.com",
                  "phone": f"010-{rng.randint(2000, 9999)}-{rng.randint(1000, 9999)}",
                  "marketing_email": "y", "analytics": "y"}
        rows.append([values.get(c, "") for c in HEADER] + ["2026-11-01", "2026-11"])
    report = await vault.importer().run(_write(tmp / "c.csv", [*HEADER, *CONSENT_PROOF_COLUMNS], rows), OPERATOR)
    assert report.created == len(refs)
    tx = []
    for i, ref in enumerate(refs):
        for k in range(i % 5):  # 0..4 purchases in the last months
            tx.append([ref, f"2026-0{rng.randint(6, 9)}-1{k}T12:00:00+09:00", rng.randint(5, 300) * 1000, "web",
                       "fashion", "n"])
    imported = await vault.behaviour_importer().transactions(_write(tmp / "t.csv", TRANSACTION_HEADER, tx), OPERATOR)
    assert imported.errors == []
    svc = vault.segments()
    who = {role: Caller(c.principal) for role, c in principals.items()}
    v1 = await svc.create(NAME, "frequency >= 1", who["marketing"], description="Customers who bought this year")
    for role in ("marketing", "sales", "crm_agent"):
        await svc.approve(v1.ref, who[role])
    await svc.activate(v1.ref, who["marketing"])
    await svc.create(NAME, 'frequency >= 2 and tier != "general"', who["sales"])
    await svc.create(NAME, "frequency >= 3", who["crm_agent"])
    return NAME


async def _audit(vault: Vault, action: str) -> list[Any]:
    async with vault.db.read() as session:
        return await search(session, AuditFilter(action=action), limit=5000)


async def _page_as(browser: Any, server: str, name: str) -> tuple[Any, Any, list[str]]:
    ctx = await browser.new_context(viewport={"width": 1360, "height": 900})
    page = await ctx.new_page()
    page.on("dialog", lambda d: d.accept())
    csp: list[str] = []
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    await log_in(page, server, name)
    assert page.url == f"{server}/console"
    return ctx, page, csp


async def test_three_departments_approve_a_version(server: str, browser: Any, people: dict[str, str], vault: Vault,
                                                   segment: str) -> None:
    ref = f"{segment}@2"
    for i, role in enumerate(("marketing", "sales", "crm_agent")):
        ctx, page, csp = await _page_as(browser, server, people[role])
        await page.goto(f"{server}/console/segments/{segment}/2")
        # only the user's own department has a button
        assert await page.locator("#approve").count() == 1
        assert await page.locator(f"tr[data-dept='{role}'] #approve").count() == 1
        if i == 0:  # CSRF: a sign-off without the token is refused and audited
            r = await page.request.post(f"{server}/console/segments/{segment}/2/approve", max_redirects=0)
            assert r.status == 403
        await page.click("#approve")
        # generous: on CI two suites share the 2 cores with the browser (a 30 s wait once ran out there)
        await page.locator("#done").wait_for(timeout=90_000)
        status = await page.get_attribute("#status", "data-status")
        assert status == ("approved" if i == 2 else "draft"), (role, status)
        assert await page.locator(f"tr[data-dept='{role}'][data-approved='1']").count() == 1
        assert await page.locator("#approve").count() == 0  # signed once; nothing left to press
        assert not csp, f"CSP violations: {csp}"
        await ctx.close()
    v = await vault.segments().get(ref, OPERATOR)
    assert v.status == "approved" and v.missing_approvals == []
    assert [(e.action, e.actor) for e in v.events][1:] == [
        ("approve", people["marketing"]), ("approve", people["sales"]), ("approve", people["crm_agent"])]
    entries = [e for e in await _audit(vault, "segment.approve") if f"segment={ref}" in (e.detail or "")]
    assert [e.principal_name for e in entries] == [people[r] for r in ("marketing", "sales", "crm_agent")]
    assert entries[-1].detail.endswith("status=approved")
    assert [e for e in await _audit(vault, "console.csrf") if e.principal_name == people["marketing"]]


async def test_version_page_diffs_expressions_and_membership(server: str, browser: Any, people: dict[str, str],
                                                             vault: Vault, segment: str) -> None:
    ctx, page, csp = await _page_as(browser, server, people["compliance_officer"])
    await page.goto(f"{server}/console/segments")
    assert await page.locator(f"section[data-segment='{segment}'] tr[data-ref]").count() == 3
    assert await page.locator(f"tr[data-ref='{segment}@1'] .status-active").count() == 1
    await page.screenshot(path=shot_path("segments"), full_page=True)
    keep_shot("segments")

    await page.click(f"tr[data-ref='{segment}@2'] a")
    await page.wait_for_url(f"**/console/segments/{segment}/2")
    assert await page.inner_text("#expr-diff del") == "1"
    assert "tier" in await page.inner_text("#expr-diff")
    assert [x.strip() for x in await page.locator("#expr-diff ins").all_inner_texts()] == ["2 and tier != \"general\""]
    await page.locator("#compare-result").wait_for()
    want = await vault.segments().compare(f"{segment}@1", f"{segment}@2", OPERATOR)
    assert await page.get_attribute("#compare-result", "data-left") == str(want.left.count)
    assert await page.get_attribute("#compare-result", "data-joined") == str(want.joined.count)
    assert want.left.count > 0
    # the sample shows masked ids; fields are read (masked) only for a purpose the officer names, audited
    ids = await page.locator("#sample .masked-id").all_inner_texts()
    assert ids and all("••••" in x and len(x.replace("•", "")) == 8 for x in ids)
    reads_before = len(await _audit(vault, "customer.read"))
    await page.select_option("#sample-purpose", "legal_claims")
    await page.click("#sample-show")
    await page.locator("#sample-fields").wait_for()
    emails = await page.locator("#sample-fields [data-field=email] .mono").all_inner_texts()
    assert emails and all("*" in e and not e.startswith("seg-") for e in emails)
    assert not re.search(r"seg-\d{3}@", (await page.inner_text("#sample-fields")).lower())  # no clear email
    reads = (await _audit(vault, "customer.read"))[reads_before:]
    assert len(reads) == len(ids) and {r.purpose for r in reads} == {"legal_claims"}
    compares = [e for e in await _audit(vault, "segment.compare") if e.principal_name == people["compliance_officer"]]
    assert compares and compares[-1].subject_count == len(ids) and f"left={want.left.count}" in compares[-1].detail
    await page.screenshot(path=shot_path("segment-version"), full_page=True)
    keep_shot("segment-version")
    assert not csp, f"CSP violations: {csp}"
    await ctx.close()


async def test_compliance_veto_needs_a_reason(server: str, browser: Any, people: dict[str, str], vault: Vault,
                                             segment: str) -> None:
    ref = f"{segment}@3"
    ctx, page, csp = await _page_as(browser, server, people["compliance_officer"])
    await page.goto(f"{server}/console/segments/{segment}/3")
    assert await page.locator("#approve").count() == 0  # compliance does not sign off, it vetoes
    csrf = await page.get_attribute("#veto-form input[name=_csrf]", "value")
    r = await page.request.post(f"{server}/console/segments/{segment}/3/veto", form={"_csrf": csrf, "reason": " "},
                                max_redirects=0)
    assert r.status == 400  # the server checks the reason, not only the browser's `required`
    assert (await vault.segments().get(ref, OPERATOR)).status == "draft"
    await page.fill("#veto-reason", "targets customers without a consent filter")
    await page.click("#veto")
    await page.locator("#done").wait_for()
    assert await page.get_attribute("#status", "data-status") == "vetoed"
    assert "without a consent filter" in await page.inner_text("#events li[data-action=veto]")
    assert await page.locator("#veto-form").count() == 0
    await page.screenshot(path=shot_path("segment-vetoed"), full_page=True)
    vetoes = [e for e in await _audit(vault, "segment.veto") if f"segment={ref}" in (e.detail or "")]
    assert len(vetoes) == 1 and vetoes[0].principal_name == people["compliance_officer"]
    assert not csp, f"CSP violations: {csp}"
    await ctx.close()

    # a department user cannot veto (the domain refuses; audited by the guard) and sees no veto form
    ctx, page, _ = await _page_as(browser, server, people["marketing"])
    await page.goto(f"{server}/console/segments/{segment}/3")
    assert await page.locator("#veto-form").count() == 0
    csrf = await page.get_attribute("header form input[name=_csrf]", "value")
    r = await page.request.post(f"{server}/console/segments/{segment}/3/veto", form={"_csrf": csrf, "reason": "no"},
                                max_redirects=0)
    assert r.status == 403
    denied = [e for e in await _audit(vault, "segment.veto") if e.outcome == "denied"]
    assert denied and denied[-1].principal_name == people["marketing"]
    await ctx.close()


async def test_analyst_sees_counts_but_no_member_sample(server: str, browser: Any, people: dict[str, str],
                                                        segment: str) -> None:
    ctx, page, _ = await _page_as(browser, server, people["analyst"])
    await page.goto(f"{server}/console/segments/{segment}/2")
    await page.locator("#compare-result").wait_for()
    assert await page.locator("#sample .masked-id").count() == 0
    assert await page.locator("#sample-form").count() == 0
    await ctx.close()
