"""Customers over HTTP: create, read, lookup, update, delete, idempotency, masks."""

from __future__ import annotations

import uuid

from litestar.testing import AsyncTestClient

from tests.conftest import Creds

APP = "application"


def body(**over: str) -> dict[str, str]:
    ref = f"T-{uuid.uuid4().hex[:10]}"
    b = {"customer_ref": ref, "name": "홍길동", "email": f"{ref.lower()}@Example.com", "phone": "010-2345-6789",
         "birth_date": "1990-05-17", "gender": "M", "postal_code": "06236", "city": "서울특별시",
         "district": "강남구", "address_line": "테헤란로 152, 1203호"}
    b.update(over)
    return b


async def test_create_read_lookup_update_delete(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    app = principals[APP].headers
    b = body()
    r = await client.post("/v1/customers?purpose=service_delivery", json=b, headers=app)
    assert r.status_code == 201, r.text
    created = r.json()
    cid = created["id"]
    assert created["fields"]["email"] == b["email"].lower()
    assert created["fields"]["phone"] == "+821023456789"
    assert r.headers["location"] == f"/v1/customers/{cid}"

    r = await client.get(f"/v1/customers/{cid}", params={"purpose": "service_delivery"}, headers=app)
    assert r.status_code == 200
    assert r.json()["fields"]["name"] == "홍길동"
    assert "rrn" not in r.json()["fields"]

    lookups = (("email", b["email"].upper()), ("phone", "+82 10 2345 6789"), ("customer_ref", b["customer_ref"]))
    for by, value in lookups:
        r = await client.get("/v1/customers", params={"purpose": "service_delivery", by: value}, headers=app)
        assert r.status_code == 200, r.text
        assert [c["id"] for c in r.json()["items"]] == [cid], by

    r = await client.patch(f"/v1/customers/{cid}?purpose=service_delivery", json={"phone": "01098765432"},
                           headers={**app, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["fields"]["phone"] == "+821098765432"
    assert r.json()["row_version"] == 2
    r = await client.get("/v1/customers", params={"purpose": "service_delivery", "phone": "010-2345-6789"},
                         headers=app)
    assert r.json()["count"] == 0  # the old blind index is gone
    r = await client.patch(f"/v1/customers/{cid}?purpose=service_delivery", json={"phone": "01011112222"},
                           headers={**app, "If-Match": '"1"'})
    assert r.status_code == 409

    r = await client.delete(f"/v1/customers/{cid}?purpose=service_delivery", headers=app)
    assert r.status_code == 204
    r = await client.get(f"/v1/customers/{cid}", params={"purpose": "service_delivery"}, headers=app)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_duplicate_ref_conflicts(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    b = body()
    h = principals[APP].headers
    assert (await client.post("/v1/customers?purpose=service_delivery", json=b, headers=h)).status_code == 201
    r = await client.post("/v1/customers?purpose=service_delivery", json=b, headers=h)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:vault:customer.duplicate"
    assert b["customer_ref"] not in r.text


async def test_idempotency_key(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    h = {**principals[APP].headers, "Idempotency-Key": uuid.uuid4().hex}
    b = body()
    first = await client.post("/v1/customers?purpose=service_delivery", json=b, headers=h)
    again = await client.post("/v1/customers?purpose=service_delivery", json=b, headers=h)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = await client.post("/v1/customers?purpose=service_delivery", json=body(), headers=h)
    assert other.status_code == 409
    assert other.json()["type"] == "urn:vault:customer.idempotency_conflict"


async def test_masks_for_crm_agent(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    b = body(phone="010-1234-5678", email="hong@example.com")
    b["email"] = f"{uuid.uuid4().hex[:6]}hong@example.com"
    r = await client.post("/v1/customers?purpose=service_delivery", json=b, headers=principals[APP].headers)
    cid = r.json()["id"]
    r = await client.get(f"/v1/customers/{cid}", params={"purpose": "customer_support"},
                         headers=principals["crm_agent"].headers)
    assert r.status_code == 200, r.text
    f = r.json()["fields"]
    assert f["phone"] == "010-****-5678"
    assert f["email"].endswith("***@example.com")
    assert f["name"] == "홍길동"
    assert f["address_line"] == "***"
    assert set(r.json()["masked"]) >= {"phone", "email", "address_line", "postal_code"}
