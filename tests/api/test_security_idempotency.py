"""Issue 10, finding 4: an Idempotency-Key replay is not a way around restriction.

A replay answers the customer's id only (never current field values), passes the same
checks as a read (a restricted customer is refused with 403, a deleted one is 404), and the
key expires after 24 hours.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy import update

from tests.conftest import Creds
from vault.bootstrap import Vault
from vault.customers.models import IdempotencyRow
from vault.lib.clock import utcnow

URL = "/v1/customers?purpose=service_delivery"


def _body() -> dict[str, str]:
    ref = f"IDEM-{uuid.uuid4().hex[:8]}"
    return {"customer_ref": ref, "name": "Park", "email": f"{ref.lower()}@example.com", "phone": "010-3333-4444"}


async def test_replay_returns_id_only(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    h = {**principals["application"].headers, "Idempotency-Key": uuid.uuid4().hex}
    b = _body()
    first = await client.post(URL, json=b, headers=h)
    assert first.status_code == 201
    cid = first.json()["id"]
    r = await client.patch(f"/v1/customers/{cid}?purpose=service_delivery", json={"name": "Changed"},
                           headers=principals["application"].headers)
    assert r.status_code == 200
    again = await client.post(URL, json=b, headers=h)
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == cid
    assert again.json()["fields"] == {}
    assert "Changed" not in again.text and "Park" not in again.text


async def test_replay_after_restriction_is_refused(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    h = {**principals["application"].headers, "Idempotency-Key": uuid.uuid4().hex}
    b = _body()
    first = await client.post(URL, json=b, headers=h)
    cid = first.json()["id"]
    co = principals["compliance_officer"].headers
    r = await client.post(f"/v1/subjects/{cid}/restriction?purpose=legal_claims", json={}, headers=co)
    assert r.status_code == 200, r.text
    again = await client.post(URL, json=b, headers=h)
    assert again.status_code == 403, again.text
    assert again.json()["type"] == "urn:vault:rights.restricted"
    assert "Park" not in again.text and b["email"] not in again.text
    # Soft-deleted (after lifting): the replay is a 404 like a read.
    assert (await client.delete(f"/v1/subjects/{cid}/restriction?purpose=legal_claims", headers=co)).status_code == 200
    assert (await client.delete(f"/v1/customers/{cid}?purpose=service_delivery",
                                headers=principals["application"].headers)).status_code == 204
    assert (await client.post(URL, json=b, headers=h)).status_code == 404


async def test_idempotency_keys_expire_after_a_day(client: AsyncTestClient, principals: dict[str, Creds],  # type: ignore[type-arg]
                                                   vault: Vault) -> None:
    key = uuid.uuid4().hex
    h = {**principals["application"].headers, "Idempotency-Key": key}
    b = _body()
    assert (await client.post(URL, json=b, headers=h)).status_code == 201
    async with vault.db.write() as session:
        await session.execute(update(IdempotencyRow).where(IdempotencyRow.key == key)
                              .values(created_at=utcnow() - timedelta(hours=24, minutes=1)))
    # Expired: the request is treated as new, so the same customer_ref conflicts instead of replaying.
    r = await client.post(URL, json=b, headers=h)
    assert r.status_code == 409, r.text
    assert r.json()["type"] == "urn:vault:customer.duplicate"
    # A different body under the same expired key is a fresh create, not an idempotency conflict.
    r = await client.post(URL, json=_body(), headers=h)
    assert r.status_code == 201, r.text
