"""Breach scoping and the monthly inspection over HTTP (issue 12, section 4)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.api.test_consent_api import SD, _customer, _record
from tests.conftest import Creds
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault

Client = AsyncTestClient  # type: ignore[type-arg]


def _prefix(creds: Creds) -> str:
    return creds.key[:len("cvk_") + 8]


async def test_impact_of_a_principal_and_its_key_lists_single_and_bulk_subjects(
    client: Client, principals: dict[str, Creds], vault: Vault,
) -> None:
    app, mkt, co = principals["application"], principals["marketing"], principals["compliance_officer"]
    since = datetime.now(UTC) - timedelta(seconds=1)
    read_one, bulk_a, bulk_b, untouched = [await _customer(client, app.headers) for _ in range(4)]
    for cid in (bulk_a, bulk_b, untouched):
        await _record(client, app.headers, cid, {"purpose": "marketing_email", "action": "grant",
                                                 "notice_version": "2026-01"})
    # marketing reads one customer's contact data and resolves a bulk contact list of two
    r = await client.get(f"/v1/customers/{read_one}", params={"purpose": "marketing_email"}, headers=mkt.headers)
    assert r.status_code in (200, 403), r.text  # no consent -> denied: must not count as touched
    await _record(client, app.headers, read_one, {"purpose": "marketing_email", "action": "grant",
                                                  "notice_version": "2026-01"})
    r = await client.get(f"/v1/customers/{read_one}", params={"purpose": "marketing_email"}, headers=mkt.headers)
    assert r.status_code == 200, r.text
    r = await client.get("/v1/contacts", headers=mkt.headers, params={
        "purpose": "marketing_email", "channel": "email", "customer_id": [bulk_a, bulk_b]})
    assert r.status_code == 200 and len(r.text.splitlines()) == 2
    detected = datetime.now(UTC)

    r = await client.get("/v1/audit/impact", headers=co.headers, params={
        "principal_id": str(mkt.principal.id), "since": since.isoformat(), "detected_at": detected.isoformat()})
    assert r.status_code == 200, r.text
    doc = r.json()
    ids = {c["customer_id"] for c in doc["customers"]}
    assert ids == {read_one, bulk_a, bulk_b}  # the bulk entry's side-table subjects are included
    assert untouched not in ids
    assert doc["customer_count"] == 3 and doc["categories"]["contact"] == 3
    assert doc["actions"]["contacts.resolve"] == 1 and doc["actions"]["customer.read"] == 1
    assert datetime.fromisoformat(doc["notify_authority_by"]) == detected + timedelta(hours=72)
    assert 71 < doc["hours_left"] <= 72
    one = next(c for c in doc["customers"] if c["customer_id"] == read_one)
    assert "email" in one["fields"] and one["entries"] == 1

    # the same by the key the marketing principal used
    r = await client.get("/v1/audit/impact", headers=co.headers, params={
        "key_prefix": _prefix(mkt), "since": since.isoformat()})
    assert {c["customer_id"] for c in r.json()["customers"]} == ids

    # a window that ends before the accesses finds nothing
    r = await client.get("/v1/audit/impact", headers=co.headers, params={
        "principal_id": str(mkt.principal.id), "since": (since - timedelta(hours=1)).isoformat(),
        "until": since.isoformat()})
    assert r.json()["customer_count"] == 0

    # notification list export
    r = await client.get("/v1/audit/impact/notification-list", headers=co.headers, params={
        "principal_id": str(mkt.principal.id), "since": since.isoformat(), "detected_at": detected.isoformat()})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["customer_id"] for row in rows} == ids
    assert {row["notify_authority_by"] for row in rows} == {(detected + timedelta(hours=72)).isoformat()}
    assert "Lee Jiwoo" not in r.text and "@example.com" not in r.text  # ids and field names only

    async with vault.db.read() as session:
        entries = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.action == "audit.impact", AuditEntryRow.principal_id == co.principal.id))).all()
    assert len(entries) == 4 and all(e.outcome == "allowed" for e in entries)
    assert f"scope=principal:{mkt.principal.id}" in (entries[0].detail or "")


async def test_impact_of_a_kek_version_is_every_customer_it_wraps(
    client: Client, principals: dict[str, Creds], vault: Vault,
) -> None:
    co = principals["compliance_officer"]
    cid = await _customer(client, principals["application"].headers)
    version = vault.keyring.provider.current_version
    r = await client.get("/v1/audit/impact", headers=co.headers, params={"kek_version": version})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert cid in {c["customer_id"] for c in doc["customers"]}
    assert {"contact", "identity", "national_id"} <= set(doc["categories"])
    r = await client.get("/v1/audit/impact", headers=co.headers, params={"kek_version": "v-unknown"})
    assert r.json()["customer_count"] == 0


async def test_impact_needs_one_scope_and_a_compliance_officer(
    client: Client, principals: dict[str, Creds], vault: Vault,
) -> None:
    co, app = principals["compliance_officer"], principals["application"]
    r = await client.get("/v1/audit/impact", headers=co.headers)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.get("/v1/audit/impact", headers=co.headers, params={
        "principal_id": str(app.principal.id), "key_prefix": _prefix(app)})
    assert r.status_code == 400
    now = datetime.now(UTC)
    r = await client.get("/v1/audit/impact", headers=co.headers, params={
        "principal_id": str(app.principal.id), "since": now.isoformat(), "until": (now - timedelta(1)).isoformat()})
    assert r.status_code == 400
    rid = uuid.uuid4().hex
    r = await client.get("/v1/audit/impact", headers={**app.headers, "X-Request-ID": rid},
                         params={"principal_id": str(co.principal.id)})
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    async with vault.db.read() as session:
        outcome = (await session.scalars(select(AuditEntryRow.outcome).where(AuditEntryRow.request_id == rid))).all()
    assert outcome == ["denied"]


async def test_monthly_inspection_lists_bulk_grants_and_denials_and_is_signed_off(
    client: Client, principals: dict[str, Creds], vault: Vault,
) -> None:
    co, app, mkt = principals["compliance_officer"], principals["application"], principals["marketing"]
    cid = await _customer(client, app.headers)
    await _record(client, app.headers, cid, {"purpose": "marketing_email", "action": "grant",
                                             "notice_version": "2026-01"})
    r = await client.get("/v1/contacts", headers=mkt.headers, params={
        "purpose": "marketing_email", "channel": "email", "customer_id": [cid]})
    assert r.status_code == 200
    # an analyst probing customer records: 25 denials within the hour make a spike (threshold 20)
    for _ in range(25):
        assert (await client.get(f"/v1/customers/{cid}{SD}", headers=principals["analyst"].headers)).status_code == 403
    month = datetime.now(UTC).astimezone(KST_TZ).strftime("%Y-%m")
    r = await client.get(f"/v1/audit/inspections/{month}", headers=co.headers)
    assert r.status_code == 200, r.text
    report = r.json()
    assert any(b["action"] == "contacts.resolve" and b["principal_id"] == mkt.principal.id.hex
               and b["purpose"] == "marketing_email" for b in report["bulk_downloads"])
    assert any(s["principal_id"] == principals["analyst"].principal.id.hex and s["denials"] >= 20
               for s in report["denial_spikes"])
    created = [g for g in report["grant_changes"] if g["action"] == "principal.create"]
    assert any(f"principal={co.principal.id}" in g["detail"] for g in created)
    assert report["settings"]["access_log_retention_days"] >= 730
    assert report["signed_off"] is False

    # the sign-off names the digest read; reading the report again does not change it
    again = (await client.get(f"/v1/audit/inspections/{month}", headers=co.headers)).json()
    assert again["sha256"] == report["sha256"]
    r = await client.post(f"/v1/audit/inspections/{month}/signoff", headers=app.headers,
                          json={"report_sha256": report["sha256"], "conclusion": "no_findings"})
    assert r.status_code == 403
    r = await client.post(f"/v1/audit/inspections/{month}/signoff", headers=co.headers,
                          json={"report_sha256": "0" * 64, "conclusion": "no_findings"})
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.post(f"/v1/audit/inspections/{month}/signoff", headers=co.headers,
                          json={"report_sha256": report["sha256"], "conclusion": "findings_followed_up"})
    assert r.status_code == 201, r.text
    signed = r.json()
    assert signed["signed_off"] is True and signed["sha256"] == report["sha256"]
    assert signed["signoffs"][-1]["principal_id"] == co.principal.id.hex
    assert signed["signoffs"][-1]["conclusion"] == "findings_followed_up"
    r = await client.get("/v1/audit/inspections/2026-13", headers=co.headers)
    assert r.status_code == 400


KST_TZ = __import__("vault.audit.inspection", fromlist=["KST"]).KST
