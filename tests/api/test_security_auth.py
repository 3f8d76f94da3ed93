"""Issue 10, finding 8: unauthenticated traffic cannot flood the audit log or reach the parser.

Authentication runs before the body is read (deep JSON or non-UTF-8 from an unauthenticated
client is a plain 401; from an authenticated one a 400, never a 500); failures are counted
per source and minute and audited as one aggregated entry; a source with too many failures
is refused (429) before its keys are looked up.
"""

from __future__ import annotations

import uuid

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from tests.conftest import Creds
from vault.access.failures import AuthFailures
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.config import LimitSettings, Settings

PER_MINUTE = 25
URL = "/v1/customers?purpose=service_delivery"
DEEP = b'{"customer_ref": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
NOT_UTF8 = b'{"customer_ref": "\xff\xfe"}'


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    """A small failed-authentication budget, reached within the test."""
    return settings.model_copy(update={"limits": LimitSettings(auth_failures_per_minute=PER_MINUTE)})


async def _auth_entries(vault: Vault) -> int:
    async with vault.db.read() as session:
        n = await session.scalar(select(func.count()).select_from(AuditEntryRow)
                                 .where(AuditEntryRow.action.like("auth.%")))
    return int(n or 0)


async def test_bodies_are_not_parsed_before_authentication(client: AsyncTestClient,  # type: ignore[type-arg]
                                                           principals: dict[str, Creds]) -> None:
    json = {"Content-Type": "application/json"}
    for body in (DEEP, NOT_UTF8):
        r = await client.post(URL, content=body, headers=json)
        assert r.status_code == 401, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await client.post(URL, content=body, headers={**json, **principals["application"].headers})
        assert r.status_code == 400, r.text
        assert r.json()["type"] == "urn:vault:bad_request"
        assert "Traceback" not in r.text


async def test_failures_are_aggregated_per_source_and_minute(client: AsyncTestClient,  # type: ignore[type-arg]
                                                             vault: Vault) -> None:
    failures: AuthFailures = client.app.state.auth_failures
    await failures.flush(vault.audit, everything=True)  # the previous test's failures
    before = await _auth_entries(vault)
    codes = []
    for i in range(PER_MINUTE + 5):
        bad = {"Authorization": f"Bearer cvk_{uuid.uuid4().hex[:8]}_{'A' * 43}"} if i % 2 else {}
        codes.append((await client.get(f"/v1/customers/{uuid.uuid4()}?purpose=service_delivery",
                                       headers=bad)).status_code)
    # No audit row per failed request...
    assert await _auth_entries(vault) == before
    # ...the source is cut off once over budget, before any key lookup...
    assert codes[:PER_MINUTE - 2].count(401) == PER_MINUTE - 2
    assert codes[-3:] == [429, 429, 429]
    # ...and the failures become one entry per source and minute, with the count.
    written = await failures.flush(vault.audit, everything=True)
    assert written >= 1
    async with vault.db.read() as session:
        rows = (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.action == "auth.failed")
                                      .order_by(AuditEntryRow.seq.desc()).limit(written))).all()
    counted = sum(int((r.detail or "0").split(" ", 1)[0]) for r in rows)
    assert counted == codes.count(401)
    assert all(r.outcome == "denied" and r.principal_id is None for r in rows)
