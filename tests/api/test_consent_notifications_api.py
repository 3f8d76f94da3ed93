"""Issue 12 §2: the 14-day result notice and the 2-year reconfirmation notice are recorded when sent;
the vault lists who is due."""

from __future__ import annotations

import uuid

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.api.test_consent_api import SD, _customer, _record
from tests.conftest import Creds
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.consent.models import ConsentNotificationRow

Client = AsyncTestClient  # type: ignore[type-arg]


async def test_result_notice_due_until_recorded(client: Client, principals: dict[str, Creds], vault: Vault) -> None:
    app = principals["application"].headers
    cid = await _customer(client, app)
    body = await _record(client, app, cid, {"purpose": "marketing_email", "action": "grant",
                                            "notice_version": "2026-11"})
    event_id = body["events"][0]["id"]  # type: ignore[index]
    due = (await client.get(f"/v1/consents/results-due{SD}", headers=app)).json()
    mine = [d for d in due if d["event_id"] == event_id]
    assert len(mine) == 1 and mine[0]["decision"] == "granted" and mine[0]["overdue"] is False
    assert mine[0]["customer_id"] == cid and mine[0]["due_at"] > mine[0]["decided_at"]

    url = f"/v1/customers/{cid}/consents/notifications{SD}"
    r = await client.post(url, headers=app, json={"kind": "result", "purpose": "marketing_email"})
    assert r.status_code == 422 and r.json()["field"] == "event_id"  # a result notice names its decision
    r = await client.post(url, headers=app, json={"kind": "result", "purpose": "marketing_email",
                                                  "event_id": str(uuid.uuid4())})
    assert r.status_code == 404
    rid = uuid.uuid4().hex
    r = await client.post(url, headers={**app, "X-Request-ID": rid},
                          json={"kind": "result", "purpose": "marketing_email", "event_id": event_id})
    assert r.status_code == 201, r.text
    due = (await client.get(f"/v1/consents/results-due{SD}", headers=app)).json()
    assert event_id not in {d["event_id"] for d in due}
    async with vault.db.read() as session:
        row = (await session.scalars(select(ConsentNotificationRow).where(
            ConsentNotificationRow.id == uuid.UUID(r.json()["id"])))).one()
        entry = (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.request_id == rid))).one()
    assert (row.kind, row.purpose, str(row.event_id), str(row.customer_id)) == (
        "result", "marketing_email", event_id, cid)
    assert entry.action == "consent.notice_sent" and "kind=result" in (entry.detail or "")


async def test_reconfirmation_notice_is_recorded_and_roles_are_checked(
    client: Client, principals: dict[str, Creds], vault: Vault,
) -> None:
    app = principals["application"].headers
    cid = await _customer(client, app)
    url = f"/v1/customers/{cid}/consents/notifications{SD}"
    r = await client.post(url, headers=app, json={"kind": "reconfirmation", "purpose": "marketing_sms"})
    assert r.status_code == 201, r.text
    r = await client.post(url, headers=app, json={"kind": "reconfirmation", "purpose": "service_delivery"})
    assert r.status_code == 422  # not a consent purpose
    r = await client.post(url, headers=app, json={"kind": "birthday", "purpose": "marketing_sms"})
    assert r.status_code in (400, 422)
    r = await client.post(url, headers=principals["analyst"].headers,
                          json={"kind": "reconfirmation", "purpose": "marketing_sms"})
    assert r.status_code == 403
    r = await client.get(f"/v1/consents/results-due{SD}", headers=principals["marketing"].headers)
    assert r.status_code == 403
    async with vault.db.read() as session:
        kinds = (await session.scalars(select(ConsentNotificationRow.kind).where(
            ConsentNotificationRow.customer_id == uuid.UUID(cid)))).all()
    assert kinds == ["reconfirmation"]
