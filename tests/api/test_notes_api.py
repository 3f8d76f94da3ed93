"""Customer notes: original sealed, redacted copy for service roles, original only for legal claims."""

from __future__ import annotations

import uuid

from litestar.testing import AsyncTestClient

from tests.conftest import Creds

NOTE = "고객님 요청: 010-2468-1357로 연락, 주민번호 900101-1234568 확인함. email kim.minsu@example.com"


async def _customer(client: AsyncTestClient, principals: dict[str, Creds]) -> str:  # type: ignore[type-arg]
    ref = f"N-{uuid.uuid4().hex[:8]}"
    r = await client.post("/v1/customers?purpose=service_delivery", json={"customer_ref": ref, "name": "김민수"},
                          headers=principals["application"].headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_note_redacted_for_agents_original_for_compliance(client: AsyncTestClient,  # type: ignore[type-arg]
                                                               principals: dict[str, Creds]) -> None:
    cid = await _customer(client, principals)
    agent = principals["crm_agent"].headers
    r = await client.post(f"/v1/customers/{cid}/notes?purpose=customer_support",
                          json={"text": NOTE, "language": "ko"}, headers=agent)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["redacted"] is True
    for secret in ("010-2468-1357", "900101-1234568", "kim.minsu@example.com"):
        assert secret not in body["text"]
    assert body["entity_counts"].get("PHONE_NUMBER") == 1
    assert body["entity_counts"].get("KR_RRN") == 1

    r = await client.get(f"/v1/customers/{cid}/notes?purpose=customer_support", headers=agent)
    assert r.status_code == 200
    assert r.json()[0]["redacted"] is True
    assert "010-2468-1357" not in r.text

    r = await client.get(f"/v1/customers/{cid}/notes?purpose=legal_claims",
                         headers=principals["compliance_officer"].headers)
    assert r.status_code == 200, r.text
    # the note held an RRN and no statute purpose applied: only the redacted copy was kept (PIPA 24-2)
    assert "900101-1234568" not in r.json()[0]["text"] and "010-2468-1357" not in r.json()[0]["text"]
    assert r.json()[0]["redacted"] is False

    plain = "고객님 요청: 010-2468-1357로 연락 바랍니다."
    r = await client.post(f"/v1/customers/{cid}/notes?purpose=customer_support",
                          json={"text": plain, "language": "ko"}, headers=agent)
    assert r.status_code == 201 and r.json()["entity_counts"].get("KR_RRN") is None
    r = await client.get(f"/v1/customers/{cid}/notes?purpose=legal_claims",
                         headers=principals["compliance_officer"].headers)
    assert r.json()[0]["text"] == plain  # without an RRN the original is kept for legal claims


async def test_note_denials_and_bad_input(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    cid = await _customer(client, principals)
    url = f"/v1/customers/{cid}/notes"
    r = await client.get(f"{url}?purpose=customer_support", headers=principals["analyst"].headers)
    assert r.status_code == 403
    r = await client.post(f"{url}?purpose=marketing_email", json={"text": "hi"},
                          headers=principals["marketing"].headers)
    assert r.status_code == 403
    r = await client.post(f"{url}?purpose=customer_support", json={"text": "  "},
                          headers=principals["crm_agent"].headers)
    assert r.status_code == 422
    r = await client.post(f"{url}?purpose=customer_support", json={"text": "x", "language": "fr"},
                          headers=principals["crm_agent"].headers)
    assert r.status_code == 422
    r = await client.post(f"/v1/customers/{uuid.uuid4()}/notes?purpose=customer_support", json={"text": "x"},
                          headers=principals["crm_agent"].headers)
    assert r.status_code == 404


async def test_restricted_customer_notes_denied(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    cid = await _customer(client, principals)
    agent = principals["crm_agent"].headers
    url = f"/v1/customers/{cid}/notes?purpose=customer_support"
    assert (await client.post(url, json={"text": "call back tomorrow"}, headers=agent)).status_code == 201
    r = await client.post(f"/v1/subjects/{cid}/restriction?purpose=legal_claims", json={},
                          headers=principals["compliance_officer"].headers)
    assert r.status_code == 200, r.text
    for resp in (await client.get(url, headers=agent), await client.post(url, json={"text": "x"}, headers=agent)):
        assert resp.status_code == 403
        assert resp.json()["type"] == "urn:vault:rights.restricted"
    r = await client.get(f"/v1/customers/{cid}/notes?purpose=legal_claims",
                         headers=principals["compliance_officer"].headers)
    assert r.status_code == 200  # legal claims handling may still read


async def test_export_includes_notes(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    cid = await _customer(client, principals)
    r = await client.post(f"/v1/customers/{cid}/notes?purpose=customer_support", json={"text": NOTE, "language": "ko"},
                          headers=principals["crm_agent"].headers)
    assert r.status_code == 201
    r = await client.get(f"/v1/subjects/{cid}/export?purpose=legal_claims",
                         headers=principals["compliance_officer"].headers)
    assert r.status_code == 200, r.text
    notes = r.json()["notes"]
    assert len(notes) == 1 and "900101-1234568" not in notes[0]["text"]  # only the redacted copy was kept
    assert notes[0]["entity_counts"]["PHONE_NUMBER"] == 1
