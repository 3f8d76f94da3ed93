"""Segments over real HTTP: sign-off through the API, snapshots, labels on the single customer view,
interactions, analysts' pseudonyms, contacts by segment, and problem+json for bad input."""

from __future__ import annotations

import uuid

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.conftest import ROLES, Creds
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault

Client = AsyncTestClient  # type: ignore[type-arg]


async def _customer(client: Client, principals: dict[str, Creds], consent: bool = True) -> str:
    app = principals["application"].headers
    ref = f"seg-{uuid.uuid4().hex[:8]}"
    r = await client.post("/v1/customers?purpose=service_delivery", headers=app,
                          json={"customer_ref": ref, "name": "Jane Roe", "email": f"{ref}@example.org"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    if consent:
        r = await client.post(f"/v1/customers/{cid}/consents?purpose=service_delivery", headers=app,
                              json={"consents": [{"purpose": "marketing_email", "action": "grant",
                                                  "notice_version": "2026-11"},
                                                 {"purpose": "analytics", "action": "grant",
                                                  "notice_version": "2026-11"}], "source": "web_form"})
        assert r.status_code == 201, r.text
    return cid


async def test_segment_lifecycle_over_http(client: Client, principals: dict[str, Creds]) -> None:
    mk, sales, crm = principals["marketing"].headers, principals["sales"].headers, principals["crm_agent"].headers
    name = f"api-{uuid.uuid4().hex[:6]}"
    r = await client.post("/v1/segments", headers=mk, json={"name": name, "expression": "frequency >= 0"})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft" and r.json()["missing_approvals"] == ["marketing", "sales", "crm_agent"]
    base = f"/v1/segments/{name}/versions/1"
    r = await client.post(f"{base}/activate", headers=mk)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert "missing sign-off" in r.json()["detail"]
    r = await client.post(f"{base}/approve", headers=principals["analyst"].headers)
    assert r.status_code == 403
    for h in (mk, sales, crm):
        assert (await client.post(f"{base}/approve", headers=h)).status_code == 200
    r = await client.post(f"{base}/activate", headers=sales)
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert [e["action"] for e in r.json()["events"]] == ["create", "approve", "approve", "approve", "activate"]
    r = await client.post(f"{base}/evaluate", headers=crm, json={"as_of": "2026-06-30"})
    assert r.status_code == 201, r.text
    snap = r.json()
    assert snap["size"] == snap["population"] and set(snap["summary"]["tiers"]) == {"general", "identified", "core"}
    r = await client.get(f"{base}/snapshots", headers=principals["compliance_officer"].headers)
    assert r.status_code == 200 and r.json()["items"][0]["id"] == snap["id"]
    r = await client.get(f"/v1/segments/snapshots/diff?base={snap['id']}&target={snap['id']}", headers=mk)
    assert r.status_code == 200 and r.json()["joined"]["count"] == 0 and r.json()["stayed"] == snap["size"]
    r = await client.post("/v1/segments", headers=mk, json={"name": name, "expression": "frequency >= 1"})
    assert r.json()["version"] == 2
    r = await client.post(f"/v1/segments/{name}/versions/2/veto", headers=principals["compliance_officer"].headers,
                          json={"reason": "targets without a consent filter"})
    assert r.status_code == 200 and r.json()["status"] == "vetoed"
    r = await client.get(f"{base}", headers=mk)
    assert r.json()["expression"] == "frequency >= 0"  # version 1 never changed


async def test_bad_expressions_are_problems_with_positions(client: Client, principals: dict[str, Creds]) -> None:
    mk = principals["marketing"].headers
    r = await client.post("/v1/segments/preview", headers=mk, json={"expression": 'tier == "core" and regoin > 1'})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["position"] == 20 and "region" in body["valid"]
    r = await client.post("/v1/segments/preview", headers=mk, json={"expression": "__import__('os')"})
    assert r.status_code == 422 and r.json()["position"] == 1
    r = await client.post("/v1/segments", headers=mk, json={"name": "Bad Name!", "expression": "true"})
    assert r.status_code == 422
    r = await client.post("/v1/segments/preview", headers=mk, json={"expression": "frequency >= 0"})
    assert r.status_code == 200 and r.json()["size"] == r.json()["population"]
    r = await client.post("/v1/segments/preview", headers=principals["admin"].headers, json={"expression": "true"})
    assert r.status_code == 403


async def test_labels_interactions_and_single_customer_view(client: Client, principals: dict[str, Creds]) -> None:
    cid = await _customer(client, principals)
    mk, crm, sales = principals["marketing"].headers, principals["crm_agent"].headers, principals["sales"].headers
    r = await client.post(f"/v1/customers/{cid}/labels", headers=mk, json={"label": "vip", "reason_code": "top_spend"})
    assert r.status_code == 201 and r.json()["department"] == "marketing"
    r = await client.post(f"/v1/customers/{cid}/labels", headers=crm,
                          json={"label": "blacklist", "reason_code": "abusive_returns"})
    assert r.status_code == 201
    blacklist_id = r.json()["id"]
    r = await client.post(f"/v1/customers/{cid}/labels", headers=crm,
                          json={"label": "blacklist", "reason_code": "again"})
    assert r.status_code == 409
    r = await client.post(f"/v1/customers/{cid}/labels", headers=crm, json={"label": "nope", "reason_code": "x"})
    assert r.status_code == 422
    r = await client.get(f"/v1/customers/{cid}?purpose=customer_support", headers=crm)
    assert r.status_code == 200
    assert sorted((lab["label"], lab["department"]) for lab in r.json()["labels"]) == [
        ("blacklist", "crm"), ("vip", "marketing")]
    r = await client.get(f"/v1/customers/{cid}/labels", headers=sales)
    assert len(r.json()["items"]) == 2
    r = await client.post(f"/v1/customers/{cid}/labels/{blacklist_id}/clear", headers=mk)
    assert r.status_code == 403  # another department's label
    r = await client.post(f"/v1/customers/{cid}/labels/{blacklist_id}/clear", headers=crm)
    assert r.status_code == 200 and r.json()["cleared_at"]
    r = await client.post(f"/v1/customers/{cid}/interactions", headers=crm,
                          json={"kind": "complaint", "satisfaction": 2, "occurred_at": "2026-06-01T10:00:00+09:00"})
    assert r.status_code == 201 and r.json()["created"] and r.json()["department"] == "crm"
    r = await client.post(f"/v1/customers/{cid}/interactions", headers=crm,
                          json={"kind": "complaint", "satisfaction": 2, "occurred_at": "2026-06-01T10:00:00+09:00"})
    assert r.status_code == 201 and not r.json()["created"]
    r = await client.post(f"/v1/customers/{cid}/interactions", headers=crm, json={"kind": "complaint",
                                                                               "satisfaction": 9})
    assert r.status_code == 422
    r = await client.post(f"/v1/customers/{uuid.uuid4()}/interactions", headers=crm, json={"kind": "ticket"})
    assert r.status_code == 404
    r = await client.post(f"/v1/customers/{cid}/interactions", headers=principals["analyst"].headers,
                          json={"kind": "ticket"})
    assert r.status_code == 403


async def test_contacts_by_segment_and_members(client: Client, principals: dict[str, Creds]) -> None:
    mk, crm = principals["marketing"].headers, principals["crm_agent"].headers
    good = await _customer(client, principals)
    blocked = await _customer(client, principals)
    no_consent = await _customer(client, principals, consent=False)
    r = await client.post(f"/v1/customers/{blocked}/labels", headers=crm,
                          json={"label": "do_not_contact", "reason_code": "customer_request"})
    assert r.status_code == 201
    name = f"contacts-{uuid.uuid4().hex[:6]}"
    await client.post("/v1/segments", headers=mk, json={"name": name, "expression": "frequency == 0"})
    ref = f"{name}@1"
    r = await client.get(f"/v1/contacts?purpose=marketing_email&channel=email&segment={ref}", headers=mk)
    assert r.status_code == 409  # not active
    for role in ("marketing", "sales", "crm_agent"):
        await client.post(f"/v1/segments/{name}/versions/1/approve", headers=principals[role].headers)
    await client.post(f"/v1/segments/{name}/versions/1/activate", headers=mk)
    r = await client.get(f"/v1/contacts?purpose=marketing_email&channel=email&segment={ref}", headers=mk)
    assert r.status_code == 409 and "evaluate" in r.json()["detail"]
    assert (await client.post(f"/v1/segments/{name}/versions/1/evaluate", headers=mk)).status_code == 201
    r = await client.get(f"/v1/contacts?purpose=marketing_email&channel=email&segment={ref}", headers=mk)
    assert r.status_code == 200, r.text
    ids = {line.split('"customer_id":"')[1][:36] for line in r.text.splitlines() if line}
    assert good in ids and blocked not in ids and no_consent not in ids
    r = await client.get("/v1/contacts?purpose=marketing_email&channel=email&segment=bad-ref", headers=mk)
    assert r.status_code == 422
    r = await client.get(f"/v1/segments/{name}/versions/1/conflicts", headers=mk)
    assert r.status_code == 200 and blocked in r.json()["customer_ids"]
    analyst = principals["analyst"].headers
    r = await client.get(f"/v1/segments/{name}/versions/1/members?project=churn-study&purpose=analytics",
                         headers=analyst)
    assert r.status_code == 200, r.text
    assert all(len(p) == 26 for p in r.json()["pseudonyms"])
    assert not any(good in p for p in r.json()["pseudonyms"])
    r = await client.get(f"/v1/segments/{name}/versions/1/members?project=churn-study&purpose=analytics", headers=mk)
    assert r.status_code == 403


async def test_segment_access_by_role_and_denials_audited(client: Client, principals: dict[str, Creds],
                                                          vault: Vault) -> None:
    cid = await _customer(client, principals, consent=False)
    allowed = {
        "preview": {"marketing", "sales", "crm_agent", "compliance_officer", "analyst"},
        "create": {"marketing", "sales", "crm_agent"},
        "label": {"marketing", "sales", "crm_agent", "compliance_officer"},
        "labels": {"marketing", "sales", "crm_agent", "compliance_officer", "application"},
        "interaction": {"crm_agent", "sales", "application"},
    }
    denied: list[str] = []
    for role in ROLES:
        calls = {
            "preview": ("POST", "/v1/segments/preview", {"expression": "frequency >= 0"}),
            "create": ("POST", "/v1/segments", {"name": f"m-{role.replace('_', '-')}-{uuid.uuid4().hex[:4]}",
                                                 "expression": "true"}),
            "label": ("POST", f"/v1/customers/{cid}/labels", {"label": "complaint_risk", "reason_code": role}),
            "labels": ("GET", f"/v1/customers/{cid}/labels", None),
            "interaction": ("POST", f"/v1/customers/{cid}/interactions", {"kind": "inquiry"}),
        }
        for what, (method, url, body) in calls.items():
            rid = uuid.uuid4().hex
            r = await client.request(method, url, headers={**principals[role].headers, "X-Request-ID": rid},
                                     json=body)
            want = role in allowed[what]
            assert (r.status_code < 300) == want, (role, what, r.status_code, r.text[:200])
            if not want:
                assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
                denied.append(rid)
    await vault.audit.drain()
    async with vault.db.read() as session:
        found = set((await session.scalars(select(AuditEntryRow.request_id).where(
            AuditEntryRow.request_id.in_(denied), AuditEntryRow.outcome == "denied"))).all())
    assert found == set(denied)
