"""Analysts over HTTP: projects, extract jobs and the registry, DP counts and the ε ledger, re-identification."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import statistics
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.conftest import Creds
from tests.extract_checker import check_release
from tests.integration.test_extracts import _customers
from vault.access.caller import Caller
from vault.audit.entry import Actor
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.customers.importer import CONSENT_PROOF_COLUMNS, HEADER
from vault.privacy.dp import noisy_counts, noisy_means, noisy_sums
from vault.privacy.models import StatsSnapshotRow
from vault.segments.behaviour import kst_day
from vault.segments.models import TransactionRow

Client = AsyncTestClient  # type: ignore[type-arg]
SPEC: dict[str, Any] = {"project": "",
                        "quasi_identifiers": ["birth_date", "gender", {"field": "postal_code", "max": "*"}],
                        "sensitive_attributes": ["city"], "k": 5, "l": 2, "max_suppression": 0.1}
DIRECT = {"name", "email", "phone", "rrn", "customer_ref", "address_line"}


@pytest.fixture(scope="module")
async def seeded(vault: Vault, tmp_path_factory: pytest.TempPathFactory) -> set[uuid.UUID]:
    path = tmp_path_factory.mktemp("seed") / "customers.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*HEADER, *CONSENT_PROOF_COLUMNS])
        w.writerows(_customers(7, 600, "A" + uuid.uuid4().hex[:5]))
    report = await vault.importer().run(path, Caller(None, purpose="service_delivery", operator="tests"),
                                        workers=0, keep_ids=True)
    assert report.created == 600
    return set(report.created_ids)


@pytest.fixture(scope="module")
async def second_analyst(vault: Vault) -> Creds:
    async with vault.db.write() as session:
        p, key = await vault.principals(session).create(f"analyst-2-{uuid.uuid4().hex[:6]}", "analyst",
                                                        Actor.cli("tests"))
    assert key is not None
    return Creds(p, key.secret)


async def _project(client: Client, officer: Creds, name: str, members: list[Creds], budget: float = 1.0) -> str:
    r = await client.post("/v1/projects", headers=officer.headers, json={
        "name": name, "epsilon_budget": budget, "members": [str(m.principal.id) for m in members]})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _wait(client: Client, who: Creds, job: str) -> dict[str, Any]:
    for _ in range(600):
        r = await client.get(f"/v1/extracts/{job}", headers=who.headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("done", "failed"):
            return dict(r.json())
        await asyncio.sleep(0.1)
    raise AssertionError("extract did not finish")


async def test_extract_over_http(client: Client, principals: dict[str, Creds], second_analyst: Creds,
                                 seeded: set[uuid.UUID], vault: Vault) -> None:
    officer, analyst = principals["compliance_officer"], principals["analyst"]
    name = f"churn-{uuid.uuid4().hex[:6]}"
    await _project(client, officer, name, [analyst])
    r = await client.post("/v1/extracts", headers=analyst.headers,
                          json={"spec": {**SPEC, "project": name}, "format": "parquet"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running", "done") and job["project"] == name
    done = await _wait(client, analyst, job["id"])
    assert done["status"] == "done", done
    m = done["manifest"]
    assert {"quasi_identifiers", "sensitive_attributes", "k", "l", "rows", "suppressed_rows", "pseudonym_column",
            "eligible_customers", "suppressed_share"} <= set(m)
    assert done["rows"] == m["rows"] and done["file_sha256"] == m["file_sha256"]

    r = await client.get(f"/v1/extracts/{job['id']}/file", headers=analyst.headers)
    assert r.status_code == 200
    import hashlib

    assert hashlib.sha256(r.content).hexdigest() == done["file_sha256"] == r.headers["x-content-sha256"]
    rows = pq.read_table(io.BytesIO(r.content)).to_pylist()
    assert check_release(rows, m) == []
    assert not DIRECT & set(rows[0])

    # the registry: the analyst sees it, another analyst (not a member) does not, the officer sees all
    listed = (await client.get("/v1/extracts", headers=analyst.headers)).json()["items"]
    assert job["id"] in {i["id"] for i in listed}
    entry = next(i for i in listed if i["id"] == job["id"])
    assert entry["requested_by"] == analyst.principal.name and entry["purpose"] == "analytics"
    assert entry["spec_sha256"] and entry["file_sha256"] == done["file_sha256"]
    other = (await client.get("/v1/extracts", headers=second_analyst.headers)).json()["items"]
    assert job["id"] not in {i["id"] for i in other}
    assert (await client.get(f"/v1/extracts/{job['id']}", headers=second_analyst.headers)).status_code == 404
    assert (await client.get(f"/v1/extracts/{job['id']}/file", headers=second_analyst.headers)).status_code == 404
    officer_view = (await client.get("/v1/extracts", headers=officer.headers)).json()["items"]
    assert job["id"] in {i["id"] for i in officer_view}
    # another role gets nothing
    assert (await client.get("/v1/extracts", headers=principals["marketing"].headers)).status_code == 403

    async with vault.db.read() as session:
        actions = set((await session.scalars(select(AuditEntryRow.action).where(
            AuditEntryRow.detail.contains(job["id"])))).all())
    assert {"extract.submit", "extract.download"} <= actions


async def test_extract_in_a_project_of_someone_else_is_refused(client: Client, principals: dict[str, Creds],
                                                                second_analyst: Creds, seeded: set[uuid.UUID]) -> None:
    name = f"other-{uuid.uuid4().hex[:6]}"
    await _project(client, principals["compliance_officer"], name, [principals["analyst"]])
    r = await client.post("/v1/extracts", headers=second_analyst.headers, json={"spec": {**SPEC, "project": name}})
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.post("/v1/extracts", headers=second_analyst.headers,
                          json={"spec": {**SPEC, "project": "no-such-project"}})
    assert r.status_code == 404


async def test_unmeetable_extract_fails_with_the_worst_classes(client: Client, principals: dict[str, Creds],
                                                                seeded: set[uuid.UUID]) -> None:
    analyst = principals["analyst"]
    name = f"bad-{uuid.uuid4().hex[:6]}"
    await _project(client, principals["compliance_officer"], name, [analyst])
    spec = {"project": name, "quasi_identifiers": ["district"], "sensitive_attributes": ["city"], "k": 2, "l": 2}
    r = await client.post("/v1/extracts", headers=analyst.headers, json={"spec": spec, "format": "csv"})
    assert r.status_code == 202
    done = await _wait(client, analyst, r.json()["id"])
    assert done["status"] == "failed" and done["manifest"] is None
    err = done["error"]
    assert err["type"] == "urn:vault:extract.target_unmeetable"
    assert err["blocking"][0]["attribute"] == "city" and err["worst_classes"]
    r = await client.get(f"/v1/extracts/{done['id']}/file", headers=analyst.headers)
    assert r.status_code == 409


@pytest.mark.parametrize("body", [
    {"spec": {"project": "x", "quasi_identifiers": ["email"]}},
    {"spec": {"project": "x", "quasi_identifiers": ["gender"], "k": 1}},
    {"spec": {"project": "x", "quasi_identifiers": ["gender"]}, "format": "xlsx"},
])
async def test_bad_specs_are_422(client: Client, principals: dict[str, Creds], body: dict[str, Any]) -> None:
    r = await client.post("/v1/extracts", headers=principals["analyst"].headers, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["type"].startswith("urn:vault:")


async def test_only_compliance_officers_govern_projects(client: Client, principals: dict[str, Creds]) -> None:
    for role in ("analyst", "admin", "marketing", "application"):
        r = await client.post("/v1/projects", headers=principals[role].headers, json={"name": f"p-{role}"})
        assert r.status_code == 403, role
    name = f"dup-{uuid.uuid4().hex[:6]}"
    await _project(client, principals["compliance_officer"], name, [])
    r = await client.post("/v1/projects", headers=principals["compliance_officer"].headers, json={"name": name})
    assert r.status_code == 409


async def test_an_analyst_named_twice_or_added_twice_at_once_is_one_member(
        client: Client, principals: dict[str, Creds], second_analyst: Creds) -> None:
    officer = principals["compliance_officer"]
    analyst = principals["analyst"]
    r = await client.post("/v1/projects", headers=officer.headers, json={
        "name": f"twice-{uuid.uuid4().hex[:6]}", "members": [str(analyst.principal.id)] * 2})
    assert r.status_code == 201, r.text  # not 409 "the name is taken"
    assert r.json()["members"] == [str(analyst.principal.id)]
    pid = r.json()["id"]
    body = {"principal_id": str(second_analyst.principal.id)}
    answers = await asyncio.gather(*(client.post(f"/v1/projects/{pid}/members", headers=officer.headers, json=body)
                                     for _ in range(4)))
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    r = await client.get(f"/v1/projects/{pid}", headers=officer.headers)
    assert sorted(r.json()["members"]) == sorted([str(analyst.principal.id), str(second_analyst.principal.id)])


async def test_dp_counts_and_the_ledger(client: Client, principals: dict[str, Creds], seeded: set[uuid.UUID],
                                        vault: Vault) -> None:
    officer, analyst = principals["compliance_officer"], principals["analyst"]
    name = f"dp-{uuid.uuid4().hex[:6]}"
    pid = await _project(client, officer, name, [analyst], budget=0.5)
    r = await client.post("/v1/stats/snapshots", headers=analyst.headers)
    assert r.status_code == 201, r.text
    customers = r.json()["customers"]
    assert 0 < customers <= len(seeded)

    r = await client.get("/v1/stats/counts", headers=analyst.headers,
                         params={"project": name, "by": "age_band10,gender", "epsilon": "0.2"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["noise"]["library"] == "OpenDP" and body["noise"]["scale"] == pytest.approx(5.0)
    assert body["epsilon_remaining"] == pytest.approx(0.3)
    assert len(body["groups"]) == 11 * 4  # the whole public domain: 10 age decades + 90+ + unknown, 4 genders
    assert abs(sum(g["count"] for g in body["groups"]) - customers) < 44 * 5 * 6

    r = await client.get("/v1/stats/counts", headers=analyst.headers,
                         params={"project": name, "by": "region", "filter": "gender:F", "epsilon": "0.3"})
    assert r.status_code == 200 and r.json()["epsilon_remaining"] == pytest.approx(0.0, abs=1e-9)
    assert {g["region"] for g in r.json()["groups"]} >= {"서울특별시", "부산광역시"}

    r = await client.get("/v1/stats/counts", headers=analyst.headers,
                         params={"project": name, "by": "gender", "epsilon": "0.1"})
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["type"] == "urn:vault:stats.budget_exhausted"
    assert problem["epsilon_remaining"] == pytest.approx(0.0, abs=1e-9) and problem["epsilon_requested"] == 0.1
    assert "left" in problem["detail"]

    ledger = (await client.get(f"/v1/projects/{pid}/ledger", headers=analyst.headers)).json()
    assert sorted(e["epsilon"] for e in ledger) == [0.2, 0.3]
    r = await client.put(f"/v1/projects/{pid}/budget", headers=officer.headers, json={"epsilon_budget": 1.0})
    assert r.json()["epsilon_remaining"] == pytest.approx(0.5)
    r = await client.get("/v1/stats/counts", headers=analyst.headers,
                         params={"project": name, "by": "gender", "epsilon": "0.1"})
    assert r.status_code == 200

    for params in ({"project": name, "by": "shoe_size"}, {"project": name, "by": "gender", "epsilon": "5"},
                   {"project": name, "by": "gender", "filter": "region:Atlantis"}):
        assert (await client.get("/v1/stats/counts", headers=analyst.headers, params=params)).status_code == 422
    r = await client.get("/v1/stats/counts", headers=principals["marketing"].headers,
                         params={"project": name, "by": "gender"})
    assert r.status_code == 403


def test_dp_noise_is_unbiased_and_scaled() -> None:
    true = [0, 7, 120, 3000]
    draws = [noisy_counts(true, 0.5)[0] for _ in range(4000)]
    for i, t in enumerate(true):
        column = [d[i] for d in draws]
        # mean within 5 standard errors of the truth; spread matches a Laplace of scale 2 (sd = 2 * sqrt 2)
        sd = statistics.pstdev(column)
        assert abs(statistics.fmean(column) - t) < 5 * sd / len(column) ** 0.5
        assert 2.3 < sd < 3.4
    assert noisy_counts(true, 0.5)[1] == 2.0


async def test_reidentification_is_for_compliance_officers_with_a_reason(
        client: Client, principals: dict[str, Creds], seeded: set[uuid.UUID], vault: Vault) -> None:
    officer, analyst = principals["compliance_officer"], principals["analyst"]
    name = f"reid-{uuid.uuid4().hex[:6]}"
    pid = await _project(client, officer, name, [analyst])
    customer = sorted(seeded)[3]
    pseudonym = vault.keyring.pseudonyms.pseudonym(name, customer)
    body = {"pseudonym": pseudonym, "reason_code": "court_order", "case_reference": "2026-GA-1234"}
    assert (await client.post(f"/v1/projects/{pid}/reidentify", headers=analyst.headers, json=body)).status_code == 403
    r = await client.post(f"/v1/projects/{pid}/reidentify?purpose=legal_claims", headers=officer.headers, json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"customer_id": str(customer), "key_version": 1, "status": "active"}
    bad = {**body, "reason_code": "curiosity"}
    r = await client.post(f"/v1/projects/{pid}/reidentify", headers=officer.headers, json=bad)
    assert r.status_code == 422

    # rotating the key: new pseudonyms, and the old one still resolves (to version 1)
    r = await client.post(f"/v1/projects/{pid}/rotate-key", headers=officer.headers)
    assert r.json()["key_version"] == 2
    new = vault.keyring.pseudonyms.for_project(name, 2).of(customer)
    assert new != pseudonym
    r = await client.post(f"/v1/projects/{pid}/reidentify", headers=officer.headers, json={**body, "pseudonym": new})
    assert r.json()["key_version"] == 2
    r = await client.post(f"/v1/projects/{pid}/reidentify", headers=officer.headers,
                          json={**body, "pseudonym": "a" * 26})
    assert r.status_code == 404

    async with vault.db.read() as session:
        entries = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.action == "pseudonym.reidentify").order_by(AuditEntryRow.seq))).all()
    outcomes = [e.outcome for e in entries if e.detail is None or "2026-GA-1234" in e.detail or e.outcome == "denied"]
    assert "denied" in outcomes and "allowed" in outcomes and "failed" in outcomes
    assert any(e.customer_id == customer and "reason=court_order" in (e.detail or "") for e in entries)


def _spend_of(i: int) -> int:
    """The test's spend of the i-th seeded customer: 0 to 245,000 KRW, a tenth of them far above the bound."""
    return 5_000 * (i % 50) + (3_000_000 if i % 10 == 0 else 0)


async def _with_spend(vault: Vault, seeded: set[uuid.UUID]) -> dict[str, int]:
    """Two purchases (one returned, which does not count) per seeded customer, 10 days ago."""
    at = datetime.now(UTC) - timedelta(days=10)
    rows, spend = [], {}
    for i, cid in enumerate(sorted(seeded)):
        amount = _spend_of(i)
        spend[cid.hex] = amount
        for returned, value in ((False, amount), (True, 77_000)):
            rows.append(TransactionRow(customer_id=cid, occurred_at=at, kst_day=kst_day(at), amount_krw=value,
                                       channel="web", category="beauty", returned=returned, row_digest=os.urandom(16)))
    async with vault.db.write() as session:
        session.add_all(rows)
    return spend


async def test_dp_sums_and_means_of_spend(client: Client, principals: dict[str, Creds], seeded: set[uuid.UUID],
                                          vault: Vault) -> None:
    officer, analyst = principals["compliance_officer"], principals["analyst"]
    spend = await _with_spend(vault, seeded)
    name = f"spend-{uuid.uuid4().hex[:6]}"
    pid = await _project(client, officer, name, [analyst], budget=1.5)
    r = await client.post("/v1/stats/snapshots", headers=analyst.headers)
    assert r.status_code == 201, r.text
    snapshot = r.json()
    async with vault.db.read() as session:
        row = await session.get(StatsSnapshotRow, uuid.UUID(snapshot["id"]))
    assert row is not None and row.spend is not None
    held = [v for *_, values in json.loads(row.spend) for v in values]
    assert len(held) == snapshot["customers"] and set(held) <= set(spend.values())  # returns do not count
    upper = 100_000
    truth = sum(min(v, upper) for v in held)

    r = await client.get("/v1/stats/sums", headers=analyst.headers, params={
        "project": name, "measure": "spend", "by": "gender", "epsilon": "1", "upper": str(upper)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["bounds"] == {"lower": 0, "upper": upper} and body["statistic"] == "sum"
    noise = body["noise"]["sum"]
    assert noise["library"] == "OpenDP" and noise["scale"] == pytest.approx(upper / 1.0)
    assert noise["sensitivity"] == upper and body["epsilon_remaining"] == pytest.approx(0.5)
    assert [g["gender"] for g in body["groups"]] == ["F", "M", "X", "unknown"]
    assert abs(sum(g["sum"] for g in body["groups"]) - truth) < 6 * noise["scale"] * 8 ** 0.5
    for g in body["groups"]:  # dimension values and numbers only: no identifier of any kind
        assert set(g) == {"gender", "sum"} and isinstance(g["sum"], int)

    r = await client.get("/v1/stats/means", headers=analyst.headers, params={
        "project": name, "measure": "spend", "by": "region", "filter": "gender:F", "epsilon": "0.5"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["bounds"]["upper"] == 2_000_000  # the configured default
    assert body["noise"]["sum"]["epsilon"] == 0.25 and body["noise"]["count"]["epsilon"] == 0.25
    assert body["noise"]["count"]["scale"] == pytest.approx(4.0)
    assert body["epsilon_remaining"] == pytest.approx(0.0, abs=1e-9)
    for g in body["groups"]:
        assert set(g) == {"region", "mean", "sum", "count"}
        assert g["mean"] is None or 0 <= g["mean"] <= 2_000_000

    r = await client.get("/v1/stats/sums", headers=analyst.headers, params={
        "project": name, "measure": "spend", "by": "gender", "epsilon": "0.1"})
    assert r.status_code == 409 and r.json()["type"] == "urn:vault:stats.budget_exhausted"
    assert r.json()["epsilon_remaining"] == pytest.approx(0.0, abs=1e-9) and "left" in r.json()["detail"]
    ledger = (await client.get(f"/v1/projects/{pid}/ledger", headers=analyst.headers)).json()
    assert sorted(e["epsilon"] for e in ledger) == [0.5, 1.0]
    assert any(e["query"].startswith(f"sums measure=spend upper={upper} by=gender") for e in ledger)

    bad: list[dict[str, str]] = [
        {"measure": "salary", "by": "gender"}, {"measure": "spend", "by": "gender", "upper": "0"},
        {"measure": "spend", "by": "gender", "upper": "99999999999"}, {"measure": "spend", "by": "email"},
        {"measure": "spend", "by": "gender", "epsilon": "2"}]
    for params in bad:
        r = await client.get("/v1/stats/sums", headers=analyst.headers, params={"project": name, **params})
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    for who in ("marketing", "crm_agent", "application"):
        r = await client.get("/v1/stats/means", headers=principals[who].headers,
                             params={"project": name, "measure": "spend", "by": "gender"})
        assert r.status_code == 403
    async with vault.db.read() as session:
        actions = set((await session.scalars(select(AuditEntryRow.action).where(
            AuditEntryRow.action.in_(["stats.sum", "stats.mean"])))).all())
    assert actions == {"stats.sum", "stats.mean"}


def test_dp_sums_and_means_are_unbiased() -> None:
    upper = 50_000
    true_sums, true_counts = [0, 40_000, 9_000_000, 25_000_000], [0, 3, 400, 1000]
    draws = [noisy_sums(true_sums, 0.5, upper)[0] for _ in range(3000)]
    for i, t in enumerate(true_sums):
        column = [d[i] for d in draws]
        sd = statistics.pstdev(column)  # Laplace of scale upper/ε = 100,000: sd = scale * sqrt 2
        assert abs(statistics.fmean(column) - t) < 5 * sd / len(column) ** 0.5
        assert 0.8 * 100_000 * 2 ** 0.5 < sd < 1.2 * 100_000 * 2 ** 0.5
    assert noisy_sums(true_sums, 0.5, upper)[1] == 100_000
    # means of large groups: noisy sum / noisy count centres on the true mean (25,000)
    means = [noisy_means(true_sums[3:], true_counts[3:], 1.0, upper).means[0] for _ in range(3000)]
    values = [m for m in means if m is not None]
    assert len(values) == 3000
    assert abs(statistics.fmean(values) - 25_000) < 5 * statistics.pstdev(values) / len(values) ** 0.5
    m = noisy_means(true_sums, true_counts, 1.0, upper)
    assert m.sum_scale == 100_000 and m.count_scale == 2.0 and all(v is None or 0 <= v <= upper for v in m.means)


async def test_segment_scoped_extract_over_http(client: Client, principals: dict[str, Creds], seeded: set[uuid.UUID],
                                                vault: Vault) -> None:
    officer, analyst = principals["compliance_officer"], principals["analyst"]
    await _with_spend(vault, seeded)
    svc = vault.segments()
    who = {role: Caller(c.principal) for role, c in principals.items()}
    seg = f"spenders-{uuid.uuid4().hex[:6]}"
    v = await svc.create(seg, "frequency >= 1", who["marketing"])
    for role in ("marketing", "sales", "crm_agent"):
        await svc.approve(v.ref, who[role])
    await svc.activate(v.ref, who["marketing"])
    await svc.evaluate(v.ref, who["marketing"])
    name = f"seg-{uuid.uuid4().hex[:6]}"
    await _project(client, officer, name, [analyst])
    spec = {"project": name, "segment": v.ref, "k": 5, "max_suppression": 0.1,
            "quasi_identifiers": [{"field": "birth_date", "generalize": "band10", "max": "*"}, "gender",
                                  {"field": "spend", "buckets": [100_000, 500_000], "top": 500_000, "max": "*"}],
            "sensitive_attributes": ["tier"]}
    r = await client.post("/v1/extracts", headers=analyst.headers, json={"spec": spec, "format": "csv"})
    assert r.status_code == 202, r.text
    job = await _wait(client, analyst, r.json()["id"])
    assert job["status"] == "done", job
    manifest = job["manifest"]
    assert manifest["segment"]["ref"] == v.ref and manifest["quasi_identifiers"][-1] == "spend"
    r = await client.get(f"/v1/extracts/{job['id']}/file", headers=analyst.headers)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert check_release(rows, manifest) == []
    assert set(rows[0]) == {"pseudonym", "birth_date", "gender", "spend", "tier"} and not set(rows[0]) & DIRECT
    assert {row["spend"] for row in rows} <= {"0-99999", "100000-199999", "200000-299999", "300000-399999",
                                              "400000-499999", "0-499999", "500000+", "*"}
    # a version never activated, or one that does not exist, is refused at submission: no job, nothing written
    draft = await svc.create(seg, "frequency >= 2", who["marketing"])
    before = (await client.get("/v1/extracts", headers=analyst.headers)).json()
    r = await client.post("/v1/extracts", headers=analyst.headers,
                          json={"spec": {**spec, "segment": draft.ref}, "format": "csv"})
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json") and "draft" in r.json()["detail"]
    r = await client.post("/v1/extracts", headers=analyst.headers,
                          json={"spec": {**spec, "segment": f"{seg}@99"}, "format": "csv"})
    assert r.status_code == 404, r.text
    assert (await client.get("/v1/extracts", headers=analyst.headers)).json() == before


async def test_every_analysts_decision_is_the_guards(client: Client, principals: dict[str, Creds],
                                                     second_analyst: Creds, vault: Vault) -> None:
    """Permission and project scope (membership, budget) are decided and audited by the one Guard."""
    officer, analyst = principals["compliance_officer"], principals["analyst"]
    name = f"guarded-{uuid.uuid4().hex[:6]}"
    pid = await _project(client, officer, name, [analyst], budget=0.0)
    assert (await client.post("/v1/stats/snapshots", headers=analyst.headers)).status_code == 201
    r = await client.get("/v1/stats/counts", headers=second_analyst.headers, params={"project": name, "by": "gender"})
    assert r.status_code == 403 and r.json()["type"] == "urn:vault:project.not_a_member"
    r = await client.get(f"/v1/projects/{pid}/ledger", headers=second_analyst.headers)
    assert r.status_code == 404
    r = await client.get("/v1/stats/sums", headers=principals["marketing"].headers,
                         params={"project": name, "measure": "spend", "by": "gender"})
    assert r.status_code == 403
    r = await client.get("/v1/stats/counts", headers=analyst.headers, params={"project": name, "by": "gender"})
    assert r.status_code == 409
    async with vault.db.read() as session:
        denied = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.outcome == "denied", AuditEntryRow.action.in_(
                ["stats.count", "stats.sum", "project.ledger"])).order_by(AuditEntryRow.seq))).all()
    details = [(e.action, e.purpose, e.principal_name, e.detail or "") for e in denied]
    mine = [d for d in details if pid in d[3] or d[2] == principals["marketing"].principal.name]
    assert any(a == "stats.count" and p == "analytics" and "project.not_a_member:" in t for a, p, _, t in mine)
    assert any(a == "project.ledger" and "project.not_found:" in t for a, _, _, t in mine)
    assert any(a == "stats.sum" and p == "analytics" and t.startswith("access.") for a, p, _, t in mine), mine
    assert any(a == "stats.count" and "stats.budget_exhausted:" in t for a, _, _, t in mine)
