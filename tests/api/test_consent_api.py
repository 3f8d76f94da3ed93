"""Consent over HTTP: record, state, history, receipts (and their offline check), contacts as NDJSON, errors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from litestar.testing import AsyncTestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import Creds
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.cli.main import app as cli
from vault.consent.rules import KST
from vault.crypto.signing import b64u, b64u_decode

SD = "?purpose=service_delivery"


async def _customer(client: AsyncTestClient, app: dict[str, str]) -> str:  # type: ignore[type-arg]
    ref = f"api-{uuid.uuid4().hex[:8]}"
    r = await client.post(f"/v1/customers{SD}", headers=app,
                          json={"customer_ref": ref, "name": "Lee Jiwoo", "email": f"{ref}@example.com",
                                "phone": "010-9876-5432"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _record(client: AsyncTestClient, app: dict[str, str], cid: str, *consents: dict[str, object],  # type: ignore[type-arg]
                  **extra: object) -> dict[str, object]:
    r = await client.post(f"/v1/customers/{cid}/consents{SD}", headers=app,
                          json={"consents": list(consents), "source": "web_form", **extra})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_grant_gives_a_receipt_that_verifies_offline_and_fails_when_modified(
    client: AsyncTestClient, principals: dict[str, Creds], tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    app = principals["application"].headers
    cid = await _customer(client, app)
    body = await _record(client, app, cid, {"purpose": "marketing_email", "action": "grant",
                                            "notice_version": "2026-01"},
                         {"purpose": "marketing_sms", "action": "grant",
                          "notice_version": "2026-01", "channels": ["sms"]},
                         evidence={"ip": "198.51.100.4", "user_agent": "Shop/1.0"})
    events = body["events"]
    assert isinstance(events, list) and len(events) == 2
    r = await client.get(f"/v1/consents/{events[0]['id']}/receipt{SD}", headers=app)
    assert r.status_code == 200
    receipt = r.json()
    key = (await client.get("/v1/consents/receipt-key", headers=app)).json()
    assert key["kid"] == receipt["kid"] and key["jwk"]["crv"] == "Ed25519"
    pem = tmp_path / "receipt.pem"
    pem.write_text(key["public_key_pem"])
    good = tmp_path / "receipt.json"
    good.write_text(json.dumps(receipt))
    result = CliRunner().invoke(cli, ["consent", "verify-receipt", str(good), "--public-key", str(pem)])
    assert result.exit_code == 0, result.output
    claims = json.loads(result.output[result.output.index("{"):])
    assert claims["sub"] == cid and {c["purpose"] for c in claims["consents"]} == {"marketing_email", "marketing_sms"}
    assert all(len(c["notice_sha256"]) == 64 for c in claims["consents"]) and claims["controller"]["name"]
    head, payload, sig = receipt["jws"].split(".")
    doc = json.loads(b64u_decode(payload))
    doc["consents"][0]["decision"] = "refused"
    bad = tmp_path / "forged.jws"
    bad.write_text(f"{head}.{b64u(json.dumps(doc).encode())}.{sig}")
    result = CliRunner().invoke(cli, ["consent", "verify-receipt", str(bad), "--public-key", str(pem)])
    assert result.exit_code == 1 and "INVALID" in result.output


async def test_withdraw_denies_next_read_with_reason_and_audit(
    client: AsyncTestClient, principals: dict[str, Creds], vault: Vault,  # type: ignore[type-arg]
) -> None:
    app = principals["application"].headers
    cid = await _customer(client, app)
    await _record(client, app, cid, {"purpose": "marketing_email", "action": "grant", "notice_version": "2026-01"})
    assert (await client.get(f"/v1/customers/{cid}?purpose=marketing_email", headers=app)).status_code == 200
    await _record(client, app, cid, {"purpose": "marketing_email", "action": "withdraw"})
    rid = uuid.uuid4().hex
    r = await client.get(f"/v1/customers/{cid}?purpose=marketing_email", headers={**app, "X-Request-ID": rid})
    assert r.status_code == 403
    problem = r.json()
    assert problem["type"] == "urn:vault:access.no_lawful_basis" and problem["reason"] == "withdrawn"
    assert "withdrawn" in problem["detail"]
    async with vault.db.read() as session:
        outcomes = (await session.scalars(select(AuditEntryRow.outcome).where(AuditEntryRow.request_id == rid))).all()
    assert "denied" in outcomes
    lines = (await client.get("/v1/contacts", headers=app, params={
        "purpose": "marketing_email", "channel": "email", "customer_id": cid})).text
    assert lines == ""
    state = (await client.get(f"/v1/customers/{cid}/consents{SD}", headers=app)).json()["items"]
    email = next(s for s in state if s["purpose"] == "marketing_email")
    assert email["status"] == "withdrawn" and email["current"] is False and email["reason"] == "withdrawn"


async def test_contacts_stream_ndjson_and_respect_night_hours(
    client: AsyncTestClient, principals: dict[str, Creds],  # type: ignore[type-arg]
) -> None:
    app = principals["application"].headers
    mkt = principals["marketing"].headers
    day_only, night_too = await _customer(client, app), await _customer(client, app)
    await _record(client, app, day_only, {"purpose": "marketing_sms", "action": "grant", "notice_version": "2026-01"})
    await _record(client, app, night_too, {"purpose": "marketing_sms", "action": "grant", "notice_version": "2026-01"},
                  {"purpose": "night_advertising", "action": "grant", "notice_version": "2026-01", "channels": ["sms"]})
    now = datetime.now(KST)
    tomorrow = (now + timedelta(days=1)).date()
    noon = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 12, 0, tzinfo=KST)
    night = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 22, 0, tzinfo=KST)
    params = {"purpose": "marketing_sms", "channel": "sms", "customer_id": [day_only, night_too]}
    r = await client.get("/v1/contacts", headers=mkt, params={**params, "at": noon.isoformat()})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert {row["customer_id"] for row in rows} == {day_only, night_too} and r.headers["x-contact-count"] == "2"
    assert all(set(row) == {"customer_id", "phone"} for row in rows)
    r = await client.get("/v1/contacts", headers=mkt, params={**params, "at": night.isoformat()})
    assert [json.loads(line)["customer_id"] for line in r.text.splitlines()] == [night_too]


async def test_bad_input_is_explained(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    app = principals["application"].headers
    cid = await _customer(client, app)
    url = f"/v1/customers/{cid}/consents{SD}"

    async def post(*consents: dict[str, object]) -> dict[str, object]:
        r = await client.post(url, headers=app, json={"consents": list(consents), "source": "app"})
        assert r.headers["content-type"].startswith("application/problem+json"), r.text
        return {"status": r.status_code, **r.json()}

    p = await post({"purpose": "astrology", "action": "grant", "notice_version": "2026-01"})
    assert p["status"] == 422 and "marketing_email" in p["valid"]  # type: ignore[operator]
    p = await post({"purpose": "marketing_email", "action": "grant", "notice_version": "2026-01", "channels": ["fax"]})
    assert p["status"] == 422 and p["valid"] == ["email"]
    p = await post({"purpose": "marketing_email", "action": "grant", "notice_version": "1999-01"})
    assert p["status"] == 422 and p["valid"] == ["2025-03", "2026-01", "2026-11"]
    p = await post({"purpose": "service_delivery", "action": "withdraw"})
    assert p["status"] == 409 and "contract" in str(p["detail"]) and "end the contract" in str(p["detail"])
    p = await post({"purpose": "marketing_email", "action": "reconfirm", "notice_version": "2026-01"})
    assert p["status"] == 409
    r = await client.get("/v1/contacts", headers=app, params={"purpose": "marketing_email", "channel": "carrier"})
    assert r.status_code == 422 and r.json()["valid"] == ["email"]
    r = await client.get("/v1/contacts", headers=app, params={"purpose": "night_advertising", "channel": "sms"})
    assert r.status_code == 422
    # withdrawing what was never granted is recorded and harmless
    body = await _record(client, app, cid, {"purpose": "cross_border_transfer", "action": "withdraw"})
    assert body["events"][0]["kind"] == "withdrawn"  # type: ignore[index]
    # an older notice version is accepted and recorded as such
    body = await _record(client, app, cid,
                         {"purpose": "marketing_email", "action": "grant", "notice_version": "2025-03"})
    assert body["events"][0]["notice_version"] == "2025-03"  # type: ignore[index]


async def test_history_evidence_only_for_compliance(
    client: AsyncTestClient, principals: dict[str, Creds],  # type: ignore[type-arg]
) -> None:
    app = principals["application"].headers
    cid = await _customer(client, app)
    await _record(client, app, cid, {"purpose": "analytics", "action": "grant", "notice_version": "2026-01"},
                  evidence={"ip": "192.0.2.1", "user_agent": "Kiosk"})
    plain = (await client.get(f"/v1/customers/{cid}/consents/history{SD}", headers=app)).json()["items"]
    assert plain[0]["evidence"] is None and plain[0]["channel"] is None
    r = await client.get(f"/v1/customers/{cid}/consents/history{SD}&evidence=true", headers=app)
    assert r.status_code == 403
    co = principals["compliance_officer"].headers
    r = await client.get(f"/v1/customers/{cid}/consents/history?purpose=legal_claims&evidence=true", headers=co)
    assert r.status_code == 200 and r.json()["items"][0]["evidence"] == {"ip": "192.0.2.1", "user_agent": "Kiosk"}


async def test_due_and_purposes(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    app = principals["application"].headers
    cid = await _customer(client, app)
    collected = (datetime.now(UTC) - timedelta(days=720)).isoformat()
    await _record(client, app, cid, {"purpose": "marketing_email", "action": "grant",
                                     "notice_version": "2026-01"}, collected_at=collected)
    r = await client.get("/v1/consents/due", headers=app,
                         params={"purpose": "service_delivery", "consent_purpose": "marketing_email"})
    assert r.status_code == 200, r.text
    assert cid in {d["customer_id"] for d in r.json()["items"]}
    purposes = {p["id"]: p for p in (await client.get("/v1/purposes", headers=app)).json()}
    assert [n["version"] for n in purposes["marketing_email"]["notices"]] == ["2025-03", "2026-01", "2026-11"]
    assert purposes["marketing_sms"]["night_opt_in_purpose"] == "night_advertising"
