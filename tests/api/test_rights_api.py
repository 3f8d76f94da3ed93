"""Data subject rights over HTTP: registry, export (validated against docs/export.schema.json), rectification,
restriction (403 that says why), objection, erasure and bulk erasure."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import Creds

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "export.schema.json").read_text())
TYPES: dict[str, Any] = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool,
                         "null": type(None)}


def validate(doc: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """The subset of JSON Schema the export schema uses (type, const, enum, required, properties,
    additionalProperties, items, $ref)."""
    if "$ref" in schema:
        schema = SCHEMA["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else types
        if not any(isinstance(doc, TYPES[t]) and not (t == "integer" and isinstance(doc, bool)) for t in allowed):
            return [f"{path}: {type(doc).__name__} is not {allowed}"]
    if "const" in schema and doc != schema["const"]:
        errors.append(f"{path}: {doc!r} != {schema['const']!r}")
    if "enum" in schema and doc not in schema["enum"]:
        errors.append(f"{path}: {doc!r} not in {schema['enum']}")
    if isinstance(doc, dict):
        errors += [f"{path}: missing {k}" for k in schema.get("required", []) if k not in doc]
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, value in doc.items():
            if key in props:
                errors += validate(value, props[key], f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: unexpected {key}")
            elif isinstance(extra, dict):
                errors += validate(value, extra, f"{path}.{key}")
    if isinstance(doc, list) and "items" in schema:
        for i, item in enumerate(doc):
            errors += validate(item, schema["items"], f"{path}[{i}]")
    return errors


async def _customer(client: AsyncTestClient, principals: dict[str, Creds]) -> tuple[str, dict[str, str]]:  # type: ignore[type-arg]
    ref = f"api-{uuid.uuid4().hex[:8]}"
    body = {"customer_ref": ref, "name": "Lee Seoyeon", "email": f"{ref}@example.com", "phone": "010-5555-0101",
            "city": "Seoul"}
    r = await client.post("/v1/customers?purpose=service_delivery", json=body,
                          headers=principals["application"].headers)
    assert r.status_code == 201, r.text
    return r.json()["id"], body


async def test_registry_export_rectify_over_http(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    co = principals["compliance_officer"].headers
    cid, body = await _customer(client, principals)
    r = await client.post(f"/v1/customers/{cid}/consents?purpose=service_delivery",
                          json={"consents": [{"purpose": "marketing_email", "action": "grant",
                                              "notice_version": "2026-01"}], "source": "web_form"},
                          headers=principals["application"].headers)
    assert r.status_code == 201, r.text
    received = (datetime.now(UTC) - timedelta(days=11)).isoformat()
    r = await client.post("/v1/requests", json={"kind": "access", "customer_id": cid, "jurisdiction": "pipa",
                                                "received_at": received}, headers=co)
    assert r.status_code == 201, r.text
    access = r.json()
    assert access["overdue"] is True and access["status"] == "received"
    r = await client.post("/v1/requests", json={"kind": "rectification", "customer_id": cid, "jurisdiction": "gdpr"},
                          headers=co)
    fix = r.json()
    r = await client.get("/v1/requests", params={"customer_id": cid}, headers=co)
    assert [i["id"] for i in r.json()["items"]] == [access["id"], fix["id"]]  # overdue first

    r = await client.patch(f"/v1/subjects/{cid}?purpose=legal_claims",
                           json={"fields": {"city": "Busan"}, "request_id": fix["id"]}, headers=co)
    assert r.status_code == 200 and r.json() == {"changed": ["city"]}, r.text
    r = await client.get(f"/v1/subjects/{cid}/export", params={"purpose": "legal_claims",
                                                                "request_id": access["id"]}, headers=co)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert validate(doc, SCHEMA) == []
    assert doc["fields"]["email"]["value"] == body["email"] and doc["fields"]["city"]["value"] == "Busan"
    assert doc["rectifications"][0]["previous_value"] == "Seoul"
    assert any(c["purpose"] == "marketing_email" and c["current"] for c in doc["consents"]["current"])
    assert "application" in {w["role"] for w in doc["recipients"]["accessed_by"]}
    r = await client.get(f"/v1/requests/{access['id']}", headers=co)
    assert r.json()["status"] == "completed" and r.json()["overdue"] is False
    r = await client.patch(f"/v1/requests/{access['id']}",
                           json={"extend": True, "extension_reason": "number_of_requests"}, headers=co)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.post("/v1/requests", json={"kind": "teleport", "customer_id": cid, "jurisdiction": "gdpr"},
                          headers=co)
    assert r.status_code == 422 and "kind must be one of" in r.json()["detail"]


async def test_restricted_customer_gets_a_403_that_says_why(client: AsyncTestClient,  # type: ignore[type-arg]
                                                            principals: dict[str, Creds]) -> None:
    co = principals["compliance_officer"].headers
    cid, body = await _customer(client, principals)
    r = await client.post(f"/v1/subjects/{cid}/restriction?purpose=legal_claims", json={}, headers=co)
    assert r.status_code == 200 and r.json()["since"], r.text
    r = await client.get(f"/v1/customers/{cid}?purpose=service_delivery", headers=principals["application"].headers)
    assert r.status_code == 403
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["type"] == "urn:vault:rights.restricted"
    assert "restricted since" in problem["detail"] and "GDPR Art. 18" in problem["detail"]
    assert "legal_claims" in problem["detail"] and problem["customer_id"] == cid
    r = await client.get(f"/v1/customers/{cid}?purpose=legal_claims", headers=co)
    assert r.status_code == 200 and r.json()["fields"]["email"] == body["email"]
    r = await client.delete(f"/v1/subjects/{cid}/restriction?purpose=legal_claims", headers=co)
    assert r.status_code == 200
    r = await client.get(f"/v1/customers/{cid}?purpose=service_delivery", headers=principals["application"].headers)
    assert r.status_code == 200


async def test_objection_and_erasure_over_http(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    co = principals["compliance_officer"].headers
    cid, body = await _customer(client, principals)
    await client.post(f"/v1/customers/{cid}/consents?purpose=service_delivery",
                      json={"consents": [{"purpose": "marketing_email", "action": "grant",
                                          "notice_version": "2026-01"}], "source": "web_form"},
                      headers=principals["application"].headers)
    r = await client.post(f"/v1/subjects/{cid}/objection?purpose=legal_claims", json={}, headers=co)
    assert r.status_code == 200
    r = await client.get(f"/v1/customers/{cid}?purpose=marketing_email", headers=principals["marketing"].headers)
    assert r.status_code == 403 and r.json()["type"] == "urn:vault:rights.objected"
    r = await client.post("/v1/requests", json={"kind": "erasure", "customer_id": cid, "jurisdiction": "gdpr"},
                          headers=co)
    req = r.json()["id"]
    r = await client.post(f"/v1/subjects/{cid}/erasure?purpose=legal_claims", json={"request_id": req}, headers=co)
    assert r.status_code == 200 and r.json()["erased"] == 1, r.text
    r = await client.get("/v1/customers", params={"purpose": "service_delivery", "email": body["email"]},
                         headers=principals["application"].headers)
    assert r.json()["count"] == 0
    r = await client.get(f"/v1/customers/{cid}?purpose=legal_claims", headers=co)
    assert r.status_code == 404
    others = [(await _customer(client, principals))[0] for _ in range(3)]
    r = await client.post("/v1/subjects/erasures?purpose=legal_claims",
                          json={"customer_ids": [*others, cid], "reason": "accounts closed"}, headers=co)
    assert r.status_code == 200 and r.json()["erased"] == 3 and r.json()["already_erased"] == 1, r.text
    r = await client.post("/v1/subjects/erasures?purpose=legal_claims", json={"customer_ids": [], "reason": "x"},
                          headers=co)
    assert r.status_code == 422
