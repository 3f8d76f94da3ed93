"""Every role x endpoint x purpose: only the allowed combinations succeed, and every denial is audited.

The expected table is written out by hand from the access model in docs/access.md, not
computed from the policy file, so a policy change that widens access fails this test.
"""

from __future__ import annotations

import uuid

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.conftest import ROLES, Creds
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault

PURPOSES = ["service_delivery", "customer_support", "marketing_email", "marketing_sms", "marketing_push",
            "night_advertising", "analytics", "third_party_delivery", "cross_border_transfer", "tax_reporting",
            "legal_claims", "fraud_prevention"]
CONSENT = {"marketing_email", "marketing_sms", "marketing_push", "night_advertising", "analytics",
           "third_party_delivery", "cross_border_transfer"}

# role -> purposes for which the role may read some customer fields (which ones is tested elsewhere)
READ = {
    "application": {"service_delivery", "fraud_prevention", "marketing_email", "marketing_sms", "marketing_push",
                    "night_advertising"},
    "crm_agent": {"customer_support"},
    "marketing": {"marketing_email", "marketing_sms", "marketing_push"},
    "sales": {"service_delivery"},
    "compliance_officer": {"legal_claims", "tax_reporting"},
    "analyst": set(),
    "admin": set(),
}
CREATE = {("application", "service_delivery")}
UPDATE = {("application", "service_delivery"), ("crm_agent", "customer_support")}
# may update under the purpose, but the matrix's PATCH (a phone number) is not a field the purpose collects: 422
UPDATE_NOT_COLLECTED = {("compliance_officer", "tax_reporting")}
DELETE = {("application", "service_delivery")}
PRINCIPALS_LIST = {"admin", "compliance_officer"}
PRINCIPALS_CREATE = {"admin"}
AUDIT_READ = {"compliance_officer"}
QUALITY_READ = {"compliance_officer"}  # data-quality flags (field and code, no values)
# data subject rights: the registry (no purpose) and acting on a subject (export, erase: purpose legal_claims)
REQUESTS = {"compliance_officer"}
SUBJECT_ACT = {("compliance_officer", "legal_claims")}
# consents: (role, purpose named in the request) that may record / read a customer's consents
CONSENT_WRITE = {("application", "service_delivery"), ("crm_agent", "customer_support")}
CONSENT_READ = CONSENT_WRITE | {("compliance_officer", "legal_claims")}
# contacts: (role, purpose) that may resolve contacts; the channel used is the purpose's first one
CONTACTS = {("application", p) for p in ("service_delivery", "marketing_email", "marketing_sms", "marketing_push")} | {
    ("marketing", p) for p in ("marketing_email", "marketing_sms", "marketing_push")}
CHANNEL = {"service_delivery": "email", "customer_support": "email", "marketing_email": "email",
           "marketing_sms": "sms", "marketing_push": "push", "legal_claims": "email"}


def _customer(ref: str) -> dict[str, str]:
    return {"customer_ref": ref, "name": "Jane Roe", "email": f"{ref}@example.org", "phone": "010-3333-4444"}


async def test_matrix(client: AsyncTestClient, principals: dict[str, Creds], vault: Vault) -> None:  # type: ignore[type-arg]
    app = principals["application"].headers
    r = await client.post("/v1/customers?purpose=service_delivery", json=_customer(f"m-{uuid.uuid4().hex[:8]}"),
                          headers=app)
    assert r.status_code == 201
    target = r.json()["id"]
    ref = r.json()["fields"]["customer_ref"]
    r = await client.post("/v1/customers?purpose=service_delivery", json=_customer(f"m-{uuid.uuid4().hex[:8]}"),
                          headers=app)
    consent_target = r.json()["id"]  # consents are recorded on another customer, so reads of `target` stay stable
    denied_ids: list[str] = []
    failures: list[str] = []

    async def check(role: str, label: str, method: str, url: str, want: int, **kw: object) -> None:
        rid = uuid.uuid4().hex
        headers = {**principals[role].headers, "X-Request-ID": rid}
        resp = await client.request(method, url, headers=headers, **kw)  # type: ignore[arg-type]
        if resp.status_code != want:
            failures.append(f"{role} {label}: got {resp.status_code}, want {want}: {resp.text[:160]}")
        if resp.status_code >= 400:
            assert resp.headers["content-type"].startswith("application/problem+json"), label
        if resp.status_code == 403:
            denied_ids.append(rid)
            if "purpose" in url:
                assert "purpose" in resp.json()["detail"] or "permission" in resp.json()["detail"]

    for role in ROLES:
        for purpose in [*PURPOSES, None]:
            q = f"?purpose={purpose}" if purpose else ""
            if purpose is None:
                want_read = want_create = want_update = want_delete = 422
            else:
                reads = purpose in READ[role]
                want_read = (403 if purpose in CONSENT else 200) if reads else 403
                want_create = 201 if (role, purpose) in CREATE else 403
                want_update = 200 if (role, purpose) in UPDATE else (
                    422 if (role, purpose) in UPDATE_NOT_COLLECTED else 403)
                want_delete = 204 if (role, purpose) in DELETE else 403
            await check(role, f"GET customer {purpose}", "GET", f"/v1/customers/{target}{q}", want_read)
            lookup = 200 if purpose in READ[role] else (422 if purpose is None else 403)
            await check(role, f"lookup {purpose}", "GET", f"/v1/customers{q}", lookup,
                        params={"customer_ref": ref, **({"purpose": purpose} if purpose else {})})
            await check(role, f"POST {purpose}", "POST", f"/v1/customers{q}", want_create,
                        json=_customer(f"m-{uuid.uuid4().hex[:8]}"))
            await check(role, f"PATCH {purpose}", "PATCH", f"/v1/customers/{target}{q}", want_update,
                        json={"phone": f"010-{4000 + len(denied_ids) % 5000}-1234"})
            victim = target
            if want_delete == 204:
                r = await client.post("/v1/customers?purpose=service_delivery",
                                      json=_customer(f"m-{uuid.uuid4().hex[:8]}"), headers=app)
                victim = r.json()["id"]
            await check(role, f"DELETE {purpose}", "DELETE", f"/v1/customers/{victim}{q}", want_delete)
            if purpose is None:
                want_cw = want_cr = want_contacts = 422
            else:
                want_cw = 201 if (role, purpose) in CONSENT_WRITE else 403
                want_cr = 200 if (role, purpose) in CONSENT_READ else 403
                # purposes without a contact channel, and the night opt-in, are refused as input (422)
                want_contacts = 422 if purpose not in CHANNEL else (200 if (role, purpose) in CONTACTS else 403)
            await check(role, f"POST consents {purpose}", "POST", f"/v1/customers/{consent_target}/consents{q}",
                        want_cw, json={"consents": [{"purpose": "analytics", "action": "refuse"}], "source": "app"})
            await check(role, f"GET consents {purpose}", "GET", f"/v1/customers/{consent_target}/consents{q}",
                        want_cr)
            await check(role, f"GET contacts {purpose}", "GET", "/v1/contacts", want_contacts,
                        params={"channel": CHANNEL.get(purpose or "", "email"),
                                **({"purpose": purpose} if purpose else {})})
            want_subject = 422 if purpose is None else (200 if (role, purpose) in SUBJECT_ACT else 403)
            await check(role, f"GET export {purpose}", "GET", f"/v1/subjects/{consent_target}/export{q}",
                        want_subject)
            erase_victim = consent_target
            if want_subject == 200:
                r = await client.post("/v1/customers?purpose=service_delivery",
                                      json=_customer(f"m-{uuid.uuid4().hex[:8]}"), headers=app)
                erase_victim = r.json()["id"]
            await check(role, f"POST erasure {purpose}", "POST", f"/v1/subjects/{erase_victim}/erasure{q}",
                        want_subject, json={})
        await check(role, "list principals", "GET", "/v1/principals", 200 if role in PRINCIPALS_LIST else 403)
        await check(role, "create principal", "POST", "/v1/principals",
                    201 if role in PRINCIPALS_CREATE else 403,
                    json={"name": f"m-{role}-{uuid.uuid4().hex[:6]}", "role": "analyst"})
        await check(role, "audit", "GET", "/v1/audit", 200 if role in AUDIT_READ else 403)
        await check(role, "audit impact", "GET", "/v1/audit/impact", 200 if role in AUDIT_READ else 403,
                    params={"principal_id": str(principals["application"].principal.id)})
        for purpose in ("third_party_delivery", "cross_border_transfer"):
            await check(role, f"provide {purpose}", "POST", f"/v1/provisions?purpose={purpose}",
                        201 if role == "application" else 403, json={"customer_ids": [target], "mechanism": "api"})
        await check(role, "inspection", "GET", "/v1/audit/inspections/2026-01", 200 if role in AUDIT_READ else 403)
        await check(role, "inspection sign-off", "POST", "/v1/audit/inspections/2026-01/signoff",
                    409 if role in AUDIT_READ else 403, json={"report_sha256": "0" * 64, "conclusion": "no_findings"})
        await check(role, "quality flags", "GET", "/v1/quality-flags", 200 if role in QUALITY_READ else 403)
        await check(role, "list requests", "GET", "/v1/requests", 200 if role in REQUESTS else 403)
        await check(role, "open request", "POST", "/v1/requests", 201 if role in REQUESTS else 403,
                    json={"kind": "access", "customer_id": consent_target, "jurisdiction": "pipa"})

    assert not failures, "\n".join(failures)
    async with vault.db.read() as session:
        rows = (await session.execute(
            select(AuditEntryRow.request_id, AuditEntryRow.outcome).where(AuditEntryRow.request_id.in_(denied_ids))
        )).all()
    audited = {rid for rid, outcome in rows if outcome == "denied"}
    missing = [rid for rid in denied_ids if rid not in audited]
    assert not missing, f"{len(missing)} of {len(denied_ids)} denials were not audited"
    assert len(denied_ids) > 300


async def test_no_credentials(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    for headers in ({}, {"Authorization": "Bearer cvk_deadbeef_nope"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer "}):
        r = await client.get(f"/v1/customers/{uuid.uuid4()}?purpose=service_delivery", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["www-authenticate"].startswith("Bearer")


async def test_revoked_key_stops_working(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    admin = principals["admin"].headers
    r = await client.post("/v1/principals", json={"name": f"tmp-{uuid.uuid4().hex[:6]}", "role": "application"},
                          headers=admin)
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]
    h = {"Authorization": f"Bearer {key['api_key']}"}
    r = await client.post(f"/v1/principals/{r.json()['id']}/approve", headers=principals["compliance_officer"].headers)
    assert r.status_code == 201, r.text
    assert (await client.get("/v1/purposes", headers=h)).status_code == 200
    r = await client.post(f"/v1/principals/keys/{key['prefix']}/revoke", headers=admin)
    assert r.status_code == 204
    assert (await client.get("/v1/purposes", headers=h)).status_code == 401
