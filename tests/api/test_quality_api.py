"""Data-quality flags over HTTP: a re-issued RRN is accepted on create and listed for compliance officers."""

from __future__ import annotations

import uuid

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.conftest import Creds
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.lib.krid import rrn_checksum_ok


def _reissued(body: str) -> str:
    ok = next(d for d in "0123456789" if rrn_checksum_ok(body + d))
    return f"{body[:6]}-{body[6:]}{(int(ok) + 1) % 10}"


async def _rectify_rrn(client: AsyncTestClient, cid: str, rrn: str, officer: dict[str, str]):  # type: ignore[no-untyped-def,type-arg]
    """RRNs are collected only under tax_reporting, for a customer recorded as a prize winner (PIPA 24-2)."""
    r = await client.post(f"/v1/customers/{cid}/cohorts?purpose=tax_reporting",
                          json={"cohort": "prize_winners", "reference": "DRAW-2026-11"}, headers=officer)
    assert r.status_code == 204, r.text
    return await client.patch(f"/v1/subjects/{cid}?purpose=tax_reporting", json={"fields": {"rrn": rrn}},
                              headers=officer)


async def test_reissued_rrn_is_stored_and_listed(client: AsyncTestClient, principals: dict[str, Creds],  # type: ignore[type-arg]
                                                 vault: Vault) -> None:
    app, officer = principals["application"].headers, principals["compliance_officer"].headers
    ref = f"Q-{uuid.uuid4().hex[:10]}"
    rrn = _reissued("780512" + "1" + "24680")
    r = await client.post("/v1/customers?purpose=service_delivery", json={"customer_ref": ref}, headers=app)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    # An RRN is statute-only: written under tax_reporting by a compliance officer for a prize winner.
    r = await _rectify_rrn(client, cid, rrn, officer)
    assert r.status_code == 200, r.text
    r = await client.patch(f"/v1/subjects/{cid}?purpose=tax_reporting", json={"fields": {"rrn": "781312-1246801"}},
                           headers=officer)
    assert r.status_code == 422  # structurally impossible (month 13): still refused
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "1246801" not in r.text

    rid = uuid.uuid4().hex
    r = await client.get("/v1/quality-flags", params={"code": "check_digit_unverified", "customer_id": cid},
                         headers={**officer, "X-Request-ID": rid})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [(i["customer_id"], i["field"], i["code"]) for i in page["items"]] == [
        (cid, "rrn", "check_digit_unverified")]
    assert rrn not in r.text and rrn.replace("-", "") not in r.text
    async with vault.db.read() as session:
        audited = (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.request_id == rid))).all()
    assert [(a.action, a.outcome) for a in audited] == [("quality.list", "allowed")]

    r = await client.get("/v1/quality-flags", params={"code": "nope"}, headers=officer)
    assert r.status_code == 422
    r = await client.get("/v1/quality-flags", params={"cursor": "garbage"}, headers=officer)
    assert r.status_code == 400
    r = await client.get("/v1/quality-flags", headers=principals["crm_agent"].headers)
    assert r.status_code == 403


async def test_pagination(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    app, officer = principals["application"].headers, principals["compliance_officer"].headers
    for i in range(3):
        r = await client.post("/v1/customers?purpose=service_delivery",
                              json={"customer_ref": f"P-{uuid.uuid4().hex[:10]}"}, headers=app)
        assert r.status_code == 201, r.text
        r = await _rectify_rrn(client, r.json()["id"], _reissued(f"6{i}0101" + "2" + "13579"), officer)
        assert r.status_code == 200, r.text
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/quality-flags", params=params, headers=officer)).json()
        seen.extend(i["customer_id"] for i in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 3


async def test_erasure_removes_the_flags(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    app, officer = principals["application"].headers, principals["compliance_officer"].headers
    r = await client.post("/v1/customers?purpose=service_delivery",
                          json={"customer_ref": f"E-{uuid.uuid4().hex[:10]}"}, headers=app)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = await _rectify_rrn(client, cid, _reissued("691130297531"), officer)
    assert r.status_code == 200, r.text
    flags = (await client.get("/v1/quality-flags", params={"customer_id": cid}, headers=officer)).json()["items"]
    assert len(flags) == 1
    r = await client.post("/v1/requests", json={"kind": "erasure", "customer_id": cid, "jurisdiction": "pipa"},
                          headers=officer)
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/subjects/{cid}/erasure?purpose=legal_claims", json={"request_id": r.json()["id"]},
                          headers=officer)
    assert r.status_code == 200 and r.json()["erased"] == 1, r.text
    flags = (await client.get("/v1/quality-flags", params={"customer_id": cid}, headers=officer)).json()["items"]
    assert flags == []
