"""Issue 10, finding 15: contact resolution cannot stream the whole customer base unnoticed.

Above the per-request or per-principal daily volume cap a resolution needs a ``justification``;
the refusal and the justification are audited.
"""

from __future__ import annotations

import json
import uuid

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.conftest import Creds
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.config import LimitSettings, Settings

PER_REQUEST = 3
URL = "/v1/contacts"


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    """Small caps, reached with a handful of customers."""
    return settings.model_copy(update={"limits": LimitSettings(contacts_per_request=PER_REQUEST,
                                                               contacts_per_day=PER_REQUEST + 2)})


async def test_volume_caps_need_a_justification(client: AsyncTestClient, principals: dict[str, Creds],  # type: ignore[type-arg]
                                                vault: Vault) -> None:
    app = principals["application"].headers
    for _ in range(PER_REQUEST + 2):
        ref = f"V-{uuid.uuid4().hex[:8]}"
        r = await client.post("/v1/customers?purpose=service_delivery", headers=app,
                              json={"customer_ref": ref, "name": "Yoon", "postal_code": "06236", "city": "Seoul",
                                    "district": "Gangnam-gu", "address_line": "Teheran-ro 1"})
        assert r.status_code == 201, r.text
    params = {"purpose": "service_delivery", "channel": "post"}
    r = await client.get(URL, params=params, headers=app)
    assert r.status_code == 403, r.text
    assert r.json()["type"] == "urn:vault:contacts.justification_required"
    r = await client.get(URL, params={**params, "justification": "short"}, headers=app)
    assert r.status_code == 422
    why = "quarterly paper statement mailing, ticket OPS-1234"
    r = await client.get(URL, params={**params, "justification": why}, headers=app)
    assert r.status_code == 200, r.text
    count = int(r.headers["x-contact-count"])
    assert count >= PER_REQUEST + 2
    async with vault.db.read() as session:
        rows = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.principal_id == principals["application"].principal.id,
            AuditEntryRow.action == "contacts.resolve").order_by(AuditEntryRow.seq))).all()
    assert rows[-1].outcome == "allowed" and why in (rows[-1].detail or "")
    assert any(e.outcome == "denied" and "justification_required" in (e.detail or "") for e in rows)
    # Under the per-request cap, but over the day's volume already used: a justification again.
    first = json.loads(r.text.splitlines()[0])["customer_id"]
    r = await client.get(URL, params={**params, "customer_id": first}, headers=app)
    assert r.status_code == 403, r.text
