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
from vault.api.auth import KeyCache
from vault.api.hot import HotRoutes
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault

APP = "application"
SD = "purpose=service_delivery"


class Fallbacks:
    """Counts the requests the hot route passed on to the framework."""

    def __init__(self, hot: HotRoutes) -> None:
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
    assert isinstance(hot, HotRoutes), "create_app installs the hot read route"
    # A key stays cached for these tests however slow the machine is: with the 5 s default, a loaded CI run
    # could let it expire between priming and the request, and the hot route then rightly falls back.
    state = client.app.state
    cache, state.key_cache = state.key_cache, KeyCache(ttl=3600)
    counter = Fallbacks(hot)
    yield counter
    counter.restore()
    state.key_cache = cache


async def _customer(client: AsyncTestClient, headers: dict[str, str]) -> str:  # type: ignore[type-arg]
    ref = f"H-{uuid.uuid4().hex[:10]}"
    r = await client.post(f"/v1/customers?{SD}", headers=headers, json={
        "customer_ref": ref, "name": "김하늘", "email": f"{ref.lower()}@example.com", "phone": "010-2345-6789",
        "city": "부산광역시"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _warm_customer(client: AsyncTestClient, headers: dict[str, str]) -> str:  # type: ignore[type-arg]
    """A new customer, read once so that the caller's key is in the app's key cache (the hot path's condition)."""
    cid = await _customer(client, headers)
    assert (await client.get(f"/v1/customers/{cid}?{SD}", headers=headers)).status_code == 200
    return cid


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
    cid = await _warm_customer(client, app)
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
    cid = await _warm_customer(client, app)
    state = client.app.state
    state.unreplayed = 3
    try:
        r = await client.get(f"/v1/customers/{cid}?{SD}", headers=app)
    finally:
        state.unreplayed = 0
    assert r.status_code == 503 and r.json()["type"] == "urn:vault:erasures_not_replayed"
    assert (await client.get(f"/v1/customers/{cid}?{SD}", headers=app)).status_code == 200


def _new_body() -> dict[str, str]:
    ref = f"W-{uuid.uuid4().hex[:10]}"
    return {"customer_ref": ref, "name": "이서준", "email": f"{ref.lower()}@example.org", "phone": "+82 10 9876 5432"}


def _shape(value: Any) -> Any:
    """The JSON's structure with ids and times blanked (two creates differ only there)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


async def test_create_hot_and_framework_answer_alike(
    client: AsyncTestClient, principals: dict[str, Creds], fallbacks: Fallbacks,  # type: ignore[type-arg]
) -> None:
    app = principals[APP].headers
    await _customer(client, app)
    before = fallbacks.count
    first, second = _new_body(), _new_body()
    hot = await client.post(f"/v1/customers?{SD}", headers=app, json=first)
    assert fallbacks.count == before
    framework = await client.post(f"/v1/customers?{SD}&unused=1", headers=app, json=second)
    assert fallbacks.count == before + 1
    assert hot.status_code == framework.status_code == 201, hot.text
    assert set(hot.headers) == set(framework.headers)
    assert hot.headers["location"] == f"/v1/customers/{hot.json()['id']}" and hot.headers["etag"] == '"1"'
    assert _shape(hot.json()) == _shape(framework.json())
    assert hot.json()["fields"]["phone"] == "+821098765432" and hot.json()["fields"]["name"] == "이서준"
    r = await client.get(f"/v1/customers/{hot.json()['id']}?{SD}", headers=app)
    assert r.status_code == 200 and r.json()["fields"]["customer_ref"] == first["customer_ref"]

    # the same customer_ref again: the same 409 from both paths
    dup_hot = await client.post(f"/v1/customers?{SD}", headers=app, json=first)
    dup_framework = await client.post(f"/v1/customers?{SD}&unused=1", headers=app, json=first)
    assert dup_hot.status_code == dup_framework.status_code == 409
    assert _problem(dup_hot.text) == _problem(dup_framework.text)
    assert first["customer_ref"] not in dup_hot.text and first["email"] not in dup_hot.text


async def test_idempotent_replay_is_identical(
    client: AsyncTestClient, principals: dict[str, Creds], fallbacks: Fallbacks,  # type: ignore[type-arg]
) -> None:
    app = {**principals[APP].headers, "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    body = _new_body()
    await client.get(f"/v1/customers/{uuid.uuid4()}?{SD}", headers=principals[APP].headers)  # cache the key
    before = fallbacks.count
    created = await client.post(f"/v1/customers?{SD}", headers=app, json=body)
    replay_hot = await client.post(f"/v1/customers?{SD}", headers=app, json=body)
    assert fallbacks.count == before
    replay_framework = await client.post(f"/v1/customers?{SD}&unused=1", headers=app, json=body)
    assert created.status_code == 201 and replay_hot.status_code == replay_framework.status_code == 200
    assert replay_hot.headers["idempotent-replayed"] == "true"
    assert replay_hot.content == replay_framework.content
    assert _comparable(replay_hot.headers) == _comparable(replay_framework.headers)


@pytest.mark.parametrize(("content", "content_type", "status"), [
    (b'{"customer_ref": ', "application/json", 400),  # not JSON
    (b'["a list"]', "application/json", 400),  # JSON, not an object
    (b'{"customer_ref": "x"}', "text/plain", None),  # not declared as JSON: the framework's answer, whatever it is
])
async def test_bodies_the_hot_route_does_not_take_go_to_the_framework(
    client: AsyncTestClient, principals: dict[str, Creds], fallbacks: Fallbacks,  # type: ignore[type-arg]
    content: bytes, content_type: str, status: int | None,
) -> None:
    app = principals[APP].headers
    await _customer(client, app)
    before = fallbacks.count
    r = await client.post(f"/v1/customers?{SD}", headers={**app, "Content-Type": content_type}, content=content)
    assert fallbacks.count == before + 1
    if status is not None:
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "application/problem+json"


async def test_body_over_the_cap_is_refused_by_the_framework(
    client: AsyncTestClient, principals: dict[str, Creds], fallbacks: Fallbacks,  # type: ignore[type-arg]
) -> None:
    app = principals[APP].headers
    await _customer(client, app)
    before = fallbacks.count
    huge = {**_new_body(), "address_line": "가" * 2_000_000}
    r = await client.post(f"/v1/customers?{SD}", headers=app, json=huge)
    assert r.status_code == 413 and fallbacks.count == before + 1


async def test_consents_hot_and_framework_answer_alike(
    client: AsyncTestClient, principals: dict[str, Creds], fallbacks: Fallbacks,  # type: ignore[type-arg]
) -> None:
    app = principals[APP].headers
    one, two = await _customer(client, app), await _customer(client, app)
    grant = {"consents": [{"purpose": "marketing_email", "action": "grant", "notice_version": "2026-01"}],
             "source": "web_form", "evidence": {"ip": "203.0.113.9", "user_agent": "test"}}
    before = fallbacks.count
    hot = await client.post(f"/v1/customers/{one}/consents?{SD}", headers=app, json=grant)
    assert fallbacks.count == before
    framework = await client.post(f"/v1/customers/{two}/consents?{SD}&unused=1", headers=app, json=grant)
    assert fallbacks.count == before + 1
    assert hot.status_code == framework.status_code == 201, hot.text
    assert set(hot.headers) == set(framework.headers)
    assert _shape(hot.json()) == _shape(framework.json())
    assert hot.json()["customer_id"] == one and hot.json()["receipt"]["jws"].count(".") == 2
    r = await client.get(f"/v1/customers/{one}?purpose=marketing_email", headers=app)
    assert r.status_code == 200  # the grant is committed before the answer

    # refusals: an unknown field (the framework's 400), a purpose nobody defined (the service's own error)
    before = fallbacks.count
    r = await client.post(f"/v1/customers/{one}/consents?{SD}", headers=app, json={**grant, "extra": 1})
    assert r.status_code == 400 and fallbacks.count == before + 1
    bad = {**grant, "consents": [{"purpose": "no_such_purpose", "action": "grant", "notice_version": "v"}]}
    bad_hot = await client.post(f"/v1/customers/{one}/consents?{SD}", headers=app, json=bad)
    bad_framework = await client.post(f"/v1/customers/{one}/consents?{SD}&unused=1", headers=app, json=bad)
    assert bad_hot.status_code == bad_framework.status_code and bad_hot.status_code >= 400
    assert _problem(bad_hot.text) == _problem(bad_framework.text)
    # a role that may not record consents: the same 403 from both paths
    support = principals["analyst"].headers
    await client.get(f"/v1/customers/{uuid.uuid4()}?{SD}", headers=support)
    denied_hot = await client.post(f"/v1/customers/{one}/consents?{SD}", headers=support, json=grant)
    denied_framework = await client.post(f"/v1/customers/{one}/consents?{SD}&unused=1", headers=support, json=grant)
    assert denied_hot.status_code == denied_framework.status_code == 403
    assert _problem(denied_hot.text) == _problem(denied_framework.text)
