"""Issue 10, finding 2: masked fields are not an oracle.

A role that sees a field only masked may not search by it; lookups are rate-limited per
principal (429 with Retry-After, the refusal audited); many empty lookups raise an alert entry.
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

LOOKUPS_PER_MINUTE = 6
MISS_ALERT = 3


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    """The shared settings with small limits, so the tests reach them quickly."""
    return settings.model_copy(update={"limits": LimitSettings(lookups_per_minute=LOOKUPS_PER_MINUTE,
                                                               lookup_miss_alert=MISS_ALERT)})


async def _entries(vault: Vault, principal: Creds, action: str) -> list[AuditEntryRow]:
    async with vault.db.read() as session:
        q = select(AuditEntryRow).where(AuditEntryRow.principal_id == principal.principal.id,
                                        AuditEntryRow.action == action).order_by(AuditEntryRow.seq)
        return list((await session.scalars(q)).all())


async def test_masked_field_is_not_searchable(client: AsyncTestClient, principals: dict[str, Creds],  # type: ignore[type-arg]
                                              vault: Vault) -> None:
    ref = f"SEC-{uuid.uuid4().hex[:8]}"
    r = await client.post("/v1/customers?purpose=service_delivery", headers=principals["application"].headers,
                          json={"customer_ref": ref, "name": "Kim", "phone": "010-5555-0101",
                                "email": f"{ref.lower()}@example.com"})
    assert r.status_code == 201, r.text
    crm = principals["crm_agent"]
    for by, value in (("phone", "010-5555-0101"), ("email", f"{ref.lower()}@example.com")):
        r = await client.get("/v1/customers", params={"purpose": "customer_support", by: value}, headers=crm.headers)
        assert r.status_code == 403, (by, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        # the random request_id (hex) may contain "010" by chance: look at everything else the problem says
        shown = json.dumps({k: v for k, v in r.json().items() if k != "request_id"}, ensure_ascii=False)
        assert "010" not in shown and ref.lower() not in shown and ref.lower() not in r.text
    denied = [e for e in await _entries(vault, crm, "customer.lookup") if e.outcome == "denied"]
    assert len(denied) >= 2
    # customer_ref is seen in clear by the call centre: still searchable.
    r = await client.get("/v1/customers", params={"purpose": "customer_support", "customer_ref": ref},
                         headers=crm.headers)
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 1
    # Sales sees phone masked as well.
    r = await client.get("/v1/customers", params={"purpose": "service_delivery", "phone": "010-5555-0101"},
                         headers=principals["sales"].headers)
    assert r.status_code == 403


async def test_lookups_are_rate_limited_per_principal(client: AsyncTestClient, principals: dict[str, Creds],  # type: ignore[type-arg]
                                                      vault: Vault) -> None:
    sales = principals["sales"]
    codes = []
    for _ in range(LOOKUPS_PER_MINUTE + 2):
        r = await client.get("/v1/customers", params={"purpose": "service_delivery",
                                                      "customer_ref": f"none-{uuid.uuid4().hex[:6]}"},
                             headers=sales.headers)
        codes.append(r.status_code)
    assert codes[:LOOKUPS_PER_MINUTE] == [200] * LOOKUPS_PER_MINUTE
    assert codes[LOOKUPS_PER_MINUTE:] == [429, 429]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["type"] == "urn:vault:rate_limited"
    refused = [e for e in await _entries(vault, sales, "customer.lookup")
               if e.outcome == "denied" and "rate limited" in (e.detail or "")]
    assert len(refused) == 2
    # Another principal is not affected.
    r = await client.get("/v1/customers", params={"purpose": "service_delivery", "customer_ref": "none"},
                         headers=principals["application"].headers)
    assert r.status_code == 200


async def test_many_empty_lookups_raise_an_alert(client: AsyncTestClient, principals: dict[str, Creds],  # type: ignore[type-arg]
                                                 vault: Vault) -> None:
    app = principals["application"]
    before = len(await _entries(vault, app, "alert.lookup_misses"))
    for i in range(MISS_ALERT):
        r = await client.get("/v1/customers", params={"purpose": "service_delivery",
                                                      "phone": f"010-9{i:03d}-{uuid.uuid4().int % 10000:04d}"},
                             headers=app.headers)
        assert r.status_code == 200 and r.json()["count"] == 0, r.text
    alerts = await _entries(vault, app, "alert.lookup_misses")
    assert len(alerts) == before + 1
    assert alerts[-1].outcome == "alert"
    assert alerts[-1].fields == "phone"
    assert "010" not in (alerts[-1].detail or "")
