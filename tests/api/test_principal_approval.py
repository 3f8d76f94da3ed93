"""Security finding 1 (critical): an admin must not be able to become anyone.

An admin could create a principal with a PII-capable role (even ``compliance_officer``) and use
its key, or issue a new key for an *existing* principal and read customers in that principal's
name. Now: PII-capable principals created or re-enabled by an admin wait for a second approval
by a different compliance officer; nobody issues keys for another principal; every request records
the key used and who issued it; issuing a PII-capable key raises an alert entry.
"""

from __future__ import annotations

import uuid

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.conftest import Creds
from vault.access.errors import SelfApprovalError
from vault.audit.models import AuditEntryRow
from vault.audit.verify import verify_chain
from vault.bootstrap import Vault

PURPOSES = "/v1/purposes"


async def _entries(vault: Vault, action: str) -> list[AuditEntryRow]:
    async with vault.db.read() as session:
        return list((await session.scalars(select(AuditEntryRow).where(AuditEntryRow.action == action)
                                           .order_by(AuditEntryRow.seq))).all())


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_admin_created_compliance_officer_needs_second_approval(
    client: AsyncTestClient, principals: dict[str, Creds], vault: Vault,  # type: ignore[type-arg]
) -> None:
    admin, officer = principals["admin"], principals["compliance_officer"]
    body = {"name": f"rogue-{uuid.uuid4().hex[:6]}", "role": "compliance_officer"}
    r = await client.post("/v1/principals", json=body,
                          headers=admin.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "pending_approval"
    rogue = _bearer(body["api_key"]["api_key"])
    # the key exists but opens nothing until a different compliance officer approves
    assert (await client.get(PURPOSES, headers=rogue)).status_code == 401
    assert (await client.get("/v1/audit", headers=rogue)).status_code == 401
    # the admin cannot approve it (lacks the permission), and the denial is audited
    rid = uuid.uuid4().hex
    r = await client.post(f"/v1/principals/{body['id']}/approve", headers={**admin.headers, "X-Request-ID": rid})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    denied = [e for e in await _entries(vault, "principal.approve") if e.request_id == rid]
    assert [e.outcome for e in denied] == ["denied"]
    # an alert entry names the PII-capable key and who issued it
    alerts = [e for e in await _entries(vault, "alert.pii_key_issued") if body["api_key"]["prefix"] in (e.detail or "")]
    assert len(alerts) == 1
    assert f"principal:{admin.principal.id.hex}" in (alerts[0].detail or "")
    # a compliance officer approves: now the key works
    r = await client.post(f"/v1/principals/{body['id']}/approve", headers=officer.headers)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "active"
    assert r.json()["approved_by"] == str(officer.principal.id)
    assert (await client.get(PURPOSES, headers=rogue)).status_code == 200
    # approving twice is a conflict, not a silent success
    r = await client.post(f"/v1/principals/{body['id']}/approve", headers=officer.headers)
    assert r.status_code == 409


async def test_non_pii_role_is_active_at_once_without_alert(
    client: AsyncTestClient, principals: dict[str, Creds], vault: Vault,  # type: ignore[type-arg]
) -> None:
    r = await client.post("/v1/principals", json={"name": f"an-{uuid.uuid4().hex[:6]}", "role": "analyst"},
                          headers=principals["admin"].headers)
    assert r.status_code == 201
    assert r.json()["status"] == "active"
    prefix = r.json()["api_key"]["prefix"]
    assert (await client.get(PURPOSES, headers=_bearer(r.json()["api_key"]["api_key"]))).status_code == 200
    assert not [e for e in await _entries(vault, "alert.pii_key_issued") if prefix in (e.detail or "")]


async def test_nobody_issues_a_key_for_another_principal(
    client: AsyncTestClient, principals: dict[str, Creds], vault: Vault,  # type: ignore[type-arg]
) -> None:
    admin, victim = principals["admin"], principals["application"]
    rid = uuid.uuid4().hex
    r = await client.post(f"/v1/principals/{victim.principal.id}/keys", headers={**admin.headers, "X-Request-ID": rid})
    assert r.status_code == 403, r.text
    assert "own principal" in r.json()["detail"]
    assert [e.outcome for e in await _entries(vault, "key.issue") if e.request_id == rid] == ["denied"]
    async with vault.db.read() as session:
        keys = await vault.principals(session).keys(victim.principal.id)
    assert len(keys) == 1  # nothing was issued
    # every principal (not only admins) may rotate its own key; the issuer is itself
    for creds in (victim, admin):
        r = await client.post("/v1/principals/me/keys", headers=creds.headers)
        assert r.status_code == 201, r.text
        assert (await client.get(PURPOSES, headers=_bearer(r.json()["api_key"]))).status_code == 200
    r = await client.post(f"/v1/principals/{victim.principal.id}/keys", headers=victim.headers)
    assert r.status_code == 201
    async with vault.db.read() as session:
        keys = await vault.principals(session).keys(victim.principal.id)
    assert [k.issued_by for k in keys][1:] == [f"principal:{victim.principal.id.hex}"] * 2


async def test_every_request_records_key_and_issuer(
    client: AsyncTestClient, principals: dict[str, Creds], vault: Vault,  # type: ignore[type-arg]
) -> None:
    admin, officer = principals["admin"], principals["compliance_officer"]
    r = await client.post("/v1/principals", json={"name": f"shop-{uuid.uuid4().hex[:6]}", "role": "application"},
                          headers=admin.headers)
    created = r.json()
    await client.post(f"/v1/principals/{created['id']}/approve", headers=officer.headers)
    shop = _bearer(created["api_key"]["api_key"])
    rid = uuid.uuid4().hex
    r = await client.post("/v1/customers?purpose=service_delivery", headers={**shop, "X-Request-ID": rid},
                          json={"customer_ref": f"K-{uuid.uuid4().hex[:8]}", "name": "Jane Roe"})
    assert r.status_code == 201, r.text
    rid2 = uuid.uuid4().hex
    r = await client.get(f"/v1/customers/{r.json()['id']}?purpose=service_delivery",
                         headers={**shop, "X-Request-ID": rid2})
    assert r.status_code == 200
    async with vault.db.read() as session:
        rows = (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.request_id.in_([rid, rid2])))).all()
    assert rows
    for row in rows:
        assert row.key_prefix == created["api_key"]["prefix"]
        assert row.key_issuer == f"principal:{admin.principal.id.hex}"
    async with vault.db.read() as session:
        result = await verify_chain(session)
    assert result.ok, result.reason


async def test_reenabled_pii_principal_needs_approval_again(
    client: AsyncTestClient, principals: dict[str, Creds],  # type: ignore[type-arg]
) -> None:
    admin, officer = principals["admin"], principals["compliance_officer"]
    r = await client.post("/v1/principals", json={"name": f"mk-{uuid.uuid4().hex[:6]}", "role": "marketing"},
                          headers=admin.headers)
    pid, key = r.json()["id"], _bearer(r.json()["api_key"]["api_key"])
    assert (await client.post(f"/v1/principals/{pid}/approve", headers=officer.headers)).status_code == 201
    assert (await client.get(PURPOSES, headers=key)).status_code == 200
    assert (await client.post(f"/v1/principals/{pid}/disable", headers=admin.headers)).status_code == 204
    assert (await client.get(PURPOSES, headers=key)).status_code == 401
    r = await client.post(f"/v1/principals/{pid}/enable", headers=admin.headers)
    assert r.status_code == 201
    assert r.json()["status"] == "pending_approval"
    assert (await client.get(PURPOSES, headers=key)).status_code == 401
    assert (await client.post(f"/v1/principals/{pid}/approve", headers=officer.headers)).status_code == 201
    assert (await client.get(PURPOSES, headers=key)).status_code == 200


async def test_creator_cannot_approve_its_own_principal(vault: Vault, principals: dict[str, Creds]) -> None:
    officer = principals["compliance_officer"].principal
    async with vault.db.write() as session:
        svc = vault.principals(session)
        created, _ = await svc.create(f"self-{uuid.uuid4().hex[:6]}", "sales", officer.actor)
        row = await svc.get(created.id)
        assert row.status == "pending_approval"
        try:
            await svc.approve(created.id, officer)
        except SelfApprovalError:
            pass
        else:
            raise AssertionError("a principal's creator approved it")
