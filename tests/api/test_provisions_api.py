"""Issue 12 section 5: the audited provide action, its log, the export's recipients and usage notices."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.api.test_consent_api import _record
from tests.api.test_rights_api import SCHEMA, validate
from tests.conftest import Creds
from vault.access.caller import Caller
from vault.audit.models import AuditEntryRow, AuditSubjectRow
from vault.bootstrap import Vault
from vault.rights.models import ProvisionRow

Client = AsyncTestClient  # type: ignore[type-arg]
TPD = "/v1/provisions?purpose=third_party_delivery"


async def _customer(client: Client, app: dict[str, str]) -> str:
    ref = f"prov-{uuid.uuid4().hex[:8]}"
    r = await client.post("/v1/customers?purpose=service_delivery", headers=app, json={
        "customer_ref": ref, "name": "Choi Minji", "email": f"{ref}@example.com", "phone": "010-4444-1212",
        "postal_code": "06236", "city": "Seoul", "district": "Gangnam-gu", "address_line": "Teheran-ro 1"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_provide_checks_current_consent_and_records_recipient_items_time_mechanism(
    client: Client, principals: dict[str, Creds], vault: Vault,
) -> None:
    app = principals["application"].headers
    yes, no, withdrawn = await _customer(client, app), await _customer(client, app), await _customer(client, app)
    await _record(client, app, yes, {"purpose": "third_party_delivery", "action": "grant", "notice_version": "2026-01"})
    await _record(client, app, withdrawn, {"purpose": "third_party_delivery", "action": "grant",
                                           "notice_version": "2026-01"})
    await _record(client, app, withdrawn, {"purpose": "third_party_delivery", "action": "withdraw"})
    rid = uuid.uuid4().hex
    r = await client.post(TPD, headers={**app, "X-Request-ID": rid}, json={
        "customer_ids": [yes, no, withdrawn], "mechanism": "api", "items": ["name", "phone", "address_line"]})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["recipient"] == "Hanbit Logistics Co., Ltd." and doc["mechanism"] == "api"
    assert [p["customer_id"] for p in doc["provided"]] == [yes]
    assert doc["provided"][0]["values"] == {"name": "Choi Minji", "phone": "+821044441212",
                                            "address_line": "Teheran-ro 1"}
    assert {x["customer_id"]: x["reason"] for x in doc["refused"]} == {no: "no_current_consent",
                                                                      withdrawn: "no_current_consent"}
    async with vault.db.read() as session:
        rows = (await session.scalars(select(ProvisionRow).where(ProvisionRow.request_id == rid))).all()
        entry = (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.request_id == rid))).one()
        subjects = (await session.scalars(select(AuditSubjectRow.customer_id)
                                          .where(AuditSubjectRow.seq == entry.seq))).all()
    [row] = rows
    assert (str(row.customer_id), row.purpose, row.recipient, row.country, row.items, row.mechanism) == (
        yes, "third_party_delivery", "Hanbit Logistics Co., Ltd.", None, "address_line,name,phone", "api")
    assert row.notice_version == "2026-01" and row.legal_basis == "consent"
    assert abs(row.provided_at.replace(tzinfo=row.provided_at.tzinfo or UTC) - datetime.now(UTC)) < timedelta(
        minutes=5)
    assert entry.action == "provision.provide" and entry.outcome == "allowed"
    assert entry.fields == "address_line,name,phone"
    assert [str(s) for s in subjects] == [yes]
    assert "Choi" not in (entry.detail or "") and "recipient=Hanbit Logistics" in (entry.detail or "")


async def test_cross_border_transfer_records_the_country(client: Client, principals: dict[str, Creds],
                                                         vault: Vault) -> None:
    app = principals["application"].headers
    cid = await _customer(client, app)
    await _record(client, app, cid, {"purpose": "cross_border_transfer", "action": "grant",
                                     "notice_version": "2026-01"})
    r = await client.post("/v1/provisions?purpose=cross_border_transfer", headers=app,
                          json={"customer_ids": [cid], "mechanism": "sftp"})
    assert r.status_code == 201, r.text
    assert r.json()["country"] == "SG" and set(r.json()["provided"][0]["values"]) == {"customer_ref", "name", "email"}
    async with vault.db.read() as session:
        row = (await session.scalars(select(ProvisionRow).where(ProvisionRow.customer_id == uuid.UUID(cid)))).one()
    assert row.country == "SG" and row.mechanism == "sftp"


async def test_provide_refuses_other_items_purposes_and_roles(client: Client, principals: dict[str, Creds],
                                                              vault: Vault) -> None:
    app = principals["application"].headers
    cid = await _customer(client, app)
    await _record(client, app, cid, {"purpose": "third_party_delivery", "action": "grant", "notice_version": "2026-01"})
    r = await client.post(TPD, headers=app, json={"customer_ids": [cid], "mechanism": "api", "items": ["email"]})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "email" and r.json()["purpose"] == "third_party_delivery"
    r = await client.post("/v1/provisions?purpose=marketing_email", headers=app,
                          json={"customer_ids": [cid], "mechanism": "api"})
    assert r.status_code == 422 and r.json()["type"] == "urn:vault:provision.not_a_provision_purpose"
    r = await client.post(TPD, headers=app, json={"customer_ids": [cid], "mechanism": "carrier_pigeon"})
    assert r.status_code == 400
    rid = uuid.uuid4().hex
    r = await client.post(TPD, headers={**principals["marketing"].headers, "X-Request-ID": rid},
                          json={"customer_ids": [cid], "mechanism": "api"})
    assert r.status_code == 403
    async with vault.db.read() as session:
        assert (await session.scalars(select(AuditEntryRow.outcome).where(AuditEntryRow.request_id == rid))).all() \
            == ["denied"]
        assert (await session.scalars(select(ProvisionRow).where(ProvisionRow.customer_id == uuid.UUID(cid)))).all() \
            == []


async def test_export_recipients_are_actual_provisions_and_usage_notice_lists_them(
    client: Client, principals: dict[str, Creds], vault: Vault,
) -> None:
    app, co = principals["application"].headers, principals["compliance_officer"].headers
    provided, only_consented = await _customer(client, app), await _customer(client, app)
    for cid in (provided, only_consented):
        await _record(client, app, cid, {"purpose": "third_party_delivery", "action": "grant",
                                         "notice_version": "2026-01"})
    since = datetime.now(UTC) - timedelta(minutes=1)
    r = await client.post(TPD, headers=app, json={"customer_ids": [provided], "mechanism": "portal_upload"})
    assert r.status_code == 201

    r = await client.get(f"/v1/subjects/{provided}/export", params={"purpose": "legal_claims"}, headers=co)
    assert r.status_code == 200, r.text
    assert validate(r.json(), SCHEMA) == []
    [tp] = r.json()["recipients"]["third_parties"]
    assert tp["recipient"] == "Hanbit Logistics Co., Ltd." and tp["mechanism"] == "portal_upload"
    assert set(tp["items"]) == {"name", "phone", "postal_code", "city", "district", "address_line"}
    r = await client.get(f"/v1/subjects/{only_consented}/export", params={"purpose": "legal_claims"}, headers=co)
    assert r.json()["recipients"]["third_parties"] == []  # consent alone is not a disclosure

    notices = {n.customer_id: n async for n in vault.usage_notices().run(
        Caller(None, operator="tests"), since=since, until=datetime.now(UTC) + timedelta(minutes=1))}
    mine = notices[uuid.UUID(provided)]
    assert [p["recipient"] for p in mine.provisions] == ["Hanbit Logistics Co., Ltd."]
    assert {"service_delivery", "third_party_delivery"} <= {p["purpose"] for p in mine.purposes}
    assert notices[uuid.UUID(only_consented)].provisions == []
    async with vault.db.read() as session:
        last = (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.action == "notice.usage")
                                      .order_by(AuditEntryRow.seq.desc()).limit(1))).one()
    assert last.subject_count == len(notices)
