"""Issue 10, findings 5 and 6: writes respect visibility, and what a write returns is audited.

5. A role may write only fields it may read for the purpose, and only fields the purpose collects
   (issue 12: ``rrn`` only under its statute purpose, a 422 naming field and purpose); a write of
   the stored value is indistinguishable from a change (the version and ETag move either way).
6. PATCH returns the record: the fields it returns are audited as a disclosure.
"""

from __future__ import annotations

import uuid

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.conftest import Creds
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault

SD = "service_delivery"


async def _customer(client: AsyncTestClient, principals: dict[str, Creds]) -> str:  # type: ignore[type-arg]
    ref = f"W-{uuid.uuid4().hex[:8]}"
    r = await client.post(f"/v1/customers?purpose={SD}", headers=principals["application"].headers,
                          json={"customer_ref": ref, "name": "Choi", "birth_date": "1991-03-04",
                                "phone": "010-7777-1234"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_rrn_is_not_writable_outside_its_statute_purpose(client: AsyncTestClient,  # type: ignore[type-arg]
                                                                principals: dict[str, Creds]) -> None:
    cid = await _customer(client, principals)
    app = principals["application"].headers
    r = await client.patch(f"/v1/customers/{cid}?purpose={SD}", json={"rrn": "900101-1234568"}, headers=app)
    assert r.status_code == 422, r.text
    assert r.json()["type"] == "urn:vault:customer.field_not_for_purpose"
    assert (r.json()["field"], r.json()["purpose"]) == ("rrn", SD)
    assert "900101" not in r.text
    ref = f"W-{uuid.uuid4().hex[:8]}"
    r = await client.post(f"/v1/customers?purpose={SD}", json={"customer_ref": ref, "rrn": "900101-1234568"},
                          headers=app)
    assert r.status_code == 422, r.text
    assert (r.json()["field"], r.json()["purpose"]) == ("rrn", SD)


async def test_fields_the_role_cannot_read_are_not_writable(client: AsyncTestClient,  # type: ignore[type-arg]
                                                            principals: dict[str, Creds]) -> None:
    cid = await _customer(client, principals)
    crm = principals["crm_agent"].headers
    # birth_date is not used by customer_support: not collected for it (issue 12: 422 naming field and purpose).
    r = await client.patch(f"/v1/customers/{cid}?purpose=customer_support", json={"birth_date": "1991-03-04"},
                           headers=crm)
    assert r.status_code == 422, r.text
    assert (r.json()["field"], r.json()["purpose"]) == ("birth_date", "customer_support")
    # A field it reads (masked) it may correct.
    r = await client.patch(f"/v1/customers/{cid}?purpose=customer_support", json={"phone": "010-7777-9999"},
                           headers=crm)
    assert r.status_code == 200, r.text


async def test_noop_write_does_not_reveal_equality(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    cid = await _customer(client, principals)
    crm = principals["crm_agent"].headers
    url = f"/v1/customers/{cid}?purpose=customer_support"
    same = await client.patch(url, json={"phone": "010-7777-1234"}, headers=crm)   # the stored value
    other = await client.patch(url, json={"phone": "010-7777-0000"}, headers=crm)  # a different one
    assert same.status_code == other.status_code == 200
    assert int(same.headers["etag"].strip('"')) == 2
    assert int(other.headers["etag"].strip('"')) == 3
    assert same.json()["fields"]["phone"] == "010-****-1234"


async def test_patch_response_is_audited_as_disclosure(client: AsyncTestClient, principals: dict[str, Creds],  # type: ignore[type-arg]
                                                       vault: Vault) -> None:
    cid = await _customer(client, principals)
    r = await client.patch(f"/v1/customers/{cid}?purpose={SD}", json={"name": "Choi"},
                           headers=principals["application"].headers)
    assert r.status_code == 200
    returned = sorted(r.json()["fields"])
    assert len(returned) > 1
    async with vault.db.read() as session:
        rows = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.customer_id == uuid.UUID(cid)).order_by(AuditEntryRow.seq))).all()
    update = [e for e in rows if e.action == "customer.update"][-1]
    assert update.fields == "name" and update.detail is None
    disclosed = [e for e in rows if e.action == "customer.disclose" and e.seq > update.seq]
    assert disclosed, [e.action for e in rows]
    assert (disclosed[0].fields or "").split(",") == returned
