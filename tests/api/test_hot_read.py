"""GET /v1/customers/{id} answered by vault.api.hot: the same answers, audit entries and refusals as the framework.

Each case sends the same request twice, once in the shape the hot route takes and once in a shape it hands to
the framework (an extra, ignored query parameter), and compares status, headers and body. A counter around the
hot route's fallback shows which path answered.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.conftest import Creds
from vault.api.hot import HotReads
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault

APP = "application"
SD = "purpose=service_delivery"


class Fallbacks:
    """Counts the requests the hot route passed on to the framework."""

    def __init__(self, hot: HotReads) -> None:
        self.count = 0
        self._inner = hot._fallback

        async def counted(scope: Any, receive: Any, send: Any) -> None:
            self.count += 1
            await self._inner(scope, receive, send)

        hot._fallback = counted
        self._hot = hot

    def restore(self) -> None:
        self._hot._fallback = self._inner


@pytest.fixture
def fallbacks(client: AsyncTestClient) -> Iterator[Fallbacks]:  # type: ignore[type-arg]
    hot = client.app.asgi_handler
    assert isinstance(hot, HotReads), "create_app installs the hot read route"
    counter = Fallbacks(hot)
    yield counter
    counter.restore()


async def _customer(client: AsyncTestClient, headers: dict[str, str]) -> str:  # type: ignore[type-arg]
    ref = f"H-{uuid.uuid4().hex[:10]}"
    r = await client.post(f"/v1/customers?{SD}", headers=headers, json={
        "customer_ref": ref, "name": "김하늘", "email": f"{ref.lower()}@example.com", "phone": "010-2345-6789",
        "city": "부산광역시"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _comparable(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in ("date", "content-length")}


def _problem(text: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(text)
    body.pop("request_id", None)
    return body


async def test_read_is_byte_identical_to_the_framework_path(
    client: AsyncTestClient, principals: dict[str, Creds], fallbacks: Fallbacks,  # type: ignore[type-arg]
) -> None:
    app = principals[APP].headers
    cid = await _customer(client, app)
    await client.get(f"/v1/customers/{cid}?{SD}", headers=app)  # the key is in the cache from here on
    before = fallbacks.count
    hot = await client.get(f"/v1/customers/{cid}?{SD}", headers=app)
    assert fallbacks.count == before, "the ordinary read is answered by the hot route"
    framework = await client.get(f"/v1/customers/{cid}?{SD}&unused=1", headers=app)
    assert fallbacks.count == before + 1
    assert hot.status_code == framework.status_code == 200
    assert hot.content == framework.content
    assert _comparable(hot.headers) == _comparable(framework.headers)
    assert hot.headers["etag"] == '"1"'
    assert hot.headers["x-content-type-options"] == "nosniff"  # the app's before_send hooks still apply
    assert hot.json()["fields"]["name"] == "김하늘"


async def test_purpose_from_header_and_request_id_audited(
    client: AsyncTestClient, principals: dict[str, Creds], vault: Vault, fallbacks: Fallbacks,  # type: ignore[type-arg]
) -> None:
    app = principals[APP].headers
    cid = await _customer(client, app)
    rid = f"req-{uuid.uuid4().hex[:12]}"
    before = fallbacks.count
    r = await client.get(f"/v1/customers/{cid}", headers={**app, "X-Purpose": "service_delivery",
                                                         "X-Request-ID": rid})
    assert r.status_code == 200, r.text
    bad_rid = "not a request id; <script>"
    r = await client.get(f"/v1/customers/{cid}?{SD}", headers={**app, "X-Request-ID": bad_rid})
    assert r.status_code == 200
    assert fallbacks.count == before
    async with vault.db.read() as session:
        rows = (await session.execute(select(AuditEntryRow.action, AuditEntryRow.outcome, AuditEntryRow.purpose,
                                             AuditEntryRow.customer_id).where(AuditEntryRow.request_id == rid))).all()
        assert [(a, o, p, str(c)) for a, o, p, c in rows] == [
            ("customer.read", "allowed", "service_delivery", str(uuid.UUID(cid)))]
        bad = select(AuditEntryRow.action).where(AuditEntryRow.request_id == bad_rid)
        assert not (await session.scalars(bad)).all()


@pytest.mark.parametrize(("query", "status", "type_"), [
    (SD, 404, "urn:vault:customer.not_found"),  # an id nobody has
    ("", 422, None),  # no purpose
    ("purpose=marketing_email", 403, None),  # no consent for it
    ("purpose=no_such_purpose", None, None),
])
async def test_refusals_match_the_framework(
    client: AsyncTestClient, principals: dict[str, Creds], vault: Vault, fallbacks: Fallbacks,  # type: ignore[type-arg]
    query: str, status: int | None, type_: str | None,
) -> None:
    app = principals[APP].headers
    cid = str(uuid.uuid4()) if status == 404 else await _customer(client, app)
    await client.get(f"/v1/customers/{cid}?{SD}", headers=app)
    before = fallbacks.count
    rid = uuid.uuid4().hex
    sep = "&" if query else ""
    hot = await client.get(f"/v1/customers/{cid}?{query}", headers={**app, "X-Request-ID": rid})
    assert fallbacks.count == before
    framework = await client.get(f"/v1/customers/{cid}?{query}{sep}unused=1", headers=app)
    assert hot.status_code == framework.status_code
    assert hot.status_code >= 400 and (status is None or hot.status_code == status)
    assert hot.headers["content-type"] == "application/problem+json"
    assert _problem(hot.text) == _problem(framework.text)
    assert hot.json()["request_id"] == rid
    if type_:
        assert hot.json()["type"] == type_
    async with vault.db.read() as session:  # the refusal is audited once, as the framework's path audits it
        outcomes = (await session.scalars(select(AuditEntryRow.outcome).where(AuditEntryRow.request_id == rid))).all()
    assert len(outcomes) == 1 and outcomes[0] in ("denied", "failed")


async def test_unusual_requests_go_to_the_framework(
    client: AsyncTestClient, principals: dict[str, Creds], fallbacks: Fallbacks,  # type: ignore[type-arg]
) -> None:
    app = principals[APP].headers
    cid = await _customer(client, app)
    await client.get(f"/v1/customers/{cid}?{SD}", headers=app)
    before = fallbacks.count
    # an unknown key: the framework's middleware refuses it (401, counted as a failure)
    r = await client.get(f"/v1/customers/{cid}?{SD}", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    r = await client.get(f"/v1/customers/{cid}?{SD}")
    assert r.status_code == 401
    # a non-canonical id the framework still parses, and a path that is not a UUID
    r = await client.get(f"/v1/customers/{uuid.UUID(cid).hex}?{SD}", headers=app)
    assert r.status_code == 200 and r.json()["id"] == cid
    r = await client.get(f"/v1/customers/{cid[:-1]}x?{SD}", headers=app)
    assert r.status_code == 404
    # an encoded purpose value
    r = await client.get(f"/v1/customers/{cid}?purpose=service%5Fdelivery", headers=app)
    assert r.status_code == 200
    assert fallbacks.count == before + 5
    # a header block over the cap is refused by the framework's limits, not served
    r = await client.get(f"/v1/customers/{cid}?{SD}", headers={**app, "X-Padding": "x" * 20_000})
    assert r.status_code == 431
    assert fallbacks.count == before + 6


async def test_restore_gate_still_applies(
    client: AsyncTestClient, principals: dict[str, Creds], fallbacks: Fallbacks,  # type: ignore[type-arg]
) -> None:
    app = principals[APP].headers
    cid = await _customer(client, app)
    await client.get(f"/v1/customers/{cid}?{SD}", headers=app)
    state = client.app.state
    state.unreplayed = 3
    try:
        r = await client.get(f"/v1/customers/{cid}?{SD}", headers=app)
    finally:
        state.unreplayed = 0
    assert r.status_code == 503 and r.json()["type"] == "urn:vault:erasures_not_replayed"
    assert (await client.get(f"/v1/customers/{cid}?{SD}", headers=app)).status_code == 200
