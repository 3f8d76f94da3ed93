"""Bad input gets a 4xx problem+json with a clear detail, never a 500, and never echoes the value."""

from __future__ import annotations

import uuid

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import Creds

GOOD = {"customer_ref": "BAD-BASE", "name": "Kim Minji", "email": "minji@example.com", "phone": "010-1111-2222"}


def _problem(r, status: int, type_: str | None = None) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status
    assert body["detail"]
    assert body["type"].startswith("urn:vault:")
    if type_:
        assert body["type"] == type_, body
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize(("field", "value"), [
    ("phone", "12345"), ("phone", "call me maybe"), ("rrn", "900101-9234567"), ("rrn", "901332-1234567"),
    ("birth_date", "1990-02-30"), ("birth_date", "30/01/1990"), ("email", "minji@"), ("gender", "Q"),
    ("postal_code", "ABCDE"), ("name", "x" * 101), ("customer_ref", ""),
])
async def test_invalid_values(client: AsyncTestClient, principals: dict[str, Creds], field: str,  # type: ignore[type-arg]
                              value: str) -> None:
    body = {**GOOD, "customer_ref": f"bad-{uuid.uuid4().hex[:8]}", field: value}
    r = await client.post("/v1/customers?purpose=service_delivery", json=body,
                          headers=principals["application"].headers)
    p = _problem(r, 422, "urn:vault:customer.invalid_field")
    assert p["field"] == field
    if len(value) > 3:
        assert value not in r.text


async def test_malformed_and_wrong_shapes(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    h = {**principals["application"].headers, "Content-Type": "application/json"}
    url = "/v1/customers?purpose=service_delivery"
    _problem(await client.post(url, content=b'{"customer_ref": "x",', headers=h), 400)
    _problem(await client.post(url, content=b"[1, 2, 3]", headers=h), 400)
    _problem(await client.post(url, content=b"\xff\xfe", headers=h), 400)
    _problem(await client.post(url, json={**GOOD, "name": 42}, headers=h), 422)
    p = _problem(await client.post(url, json={**GOOD, "shoe_size": "270"}, headers=h), 422,
                 "urn:vault:invalid_input")
    assert p["fields"] == ["shoe_size"]
    _problem(await client.patch(f"/v1/customers/{uuid.uuid4()}?purpose=service_delivery", json={}, headers=h), 422)
    _problem(await client.get("/v1/customers/not-a-uuid?purpose=service_delivery", headers=h), 404)
    _problem(await client.get("/v1/customers?purpose=service_delivery", headers=h), 422)
    _problem(await client.get("/v1/customers?purpose=service_delivery&email=a@b.co&phone=010", headers=h), 422)
    _problem(await client.get("/v1/audit?limit=0", headers=principals["compliance_officer"].headers), 400)
    _problem(await client.get("/v1/audit?cursor=abc", headers=principals["compliance_officer"].headers), 400)
    _problem(await client.get("/v1/audit?since=yesterday", headers=principals["compliance_officer"].headers), 400)
    _problem(await client.post("/v1/principals", json={"name": "x", "role": "wizard"},
                               headers=principals["admin"].headers), 422)
    _problem(await client.post("/v1/principals", json={"name": "x", "role": "analyst", "extra": 1},
                               headers=principals["admin"].headers), 400)
    _problem(await client.put(url, json=GOOD, headers=h), 405)


async def test_oversized_body(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    big = {**GOOD, "address_line": "가" * 2_000_000}
    r = await client.post("/v1/customers?purpose=service_delivery", json=big,
                          headers=principals["application"].headers)
    _problem(r, 413, "urn:vault:body_too_large")


async def test_purpose_errors(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    h = principals["application"].headers
    cid = uuid.uuid4()
    p = _problem(await client.get(f"/v1/customers/{cid}", headers=h), 422, "urn:vault:access.purpose_required")
    assert "service_delivery" in p["valid"]
    p = _problem(await client.get(f"/v1/customers/{cid}?purpose=astrology", headers=h), 422,
                 "urn:vault:access.unknown_purpose")
    assert "astrology" in p["detail"]
    r = await client.get(f"/v1/customers/{cid}", headers={**h, "X-Purpose": "service_delivery"})
    _problem(r, 404, "urn:vault:customer.not_found")


async def test_wrong_keys(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    for auth in ("Bearer cvk_00000000_" + "A" * 43, "Bearer garbage", "Token abc", "Bearer"):
        r = await client.post("/v1/customers?purpose=service_delivery", json=GOOD, headers={"Authorization": auth})
        _problem(r, 401, "urn:vault:auth.invalid_credentials")
