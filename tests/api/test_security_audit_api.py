"""Issue 10, finding 3 (HTTP side): hostile input cannot fail other requests' audit entries.

An unknown, over-long purpose is audited as a bounded stand-in while other principals' reads
go on; header blocks and URLs are capped (431 / 414, also by the server's own HTTP protocol);
an audit write failure answers 503, never 400.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any

import uvicorn
from litestar.testing import AsyncTestClient
from sqlalchemy import create_engine, select, text

from tests.conftest import Creds, DbTarget
from vault.api.limits import BoundedHttpToolsProtocol
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.db.engine import sync_url

PURPOSE = "service_delivery"


async def _customer(client: AsyncTestClient, principals: dict[str, Creds]) -> str:  # type: ignore[type-arg]
    ref = f"AUD-{uuid.uuid4().hex[:8]}"
    r = await client.post(f"/v1/customers?purpose={PURPOSE}", json={"customer_ref": ref, "name": "Lee"},
                          headers=principals["application"].headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_long_purpose_does_not_fail_other_reads(client: AsyncTestClient, principals: dict[str, Creds],  # type: ignore[type-arg]
                                                      vault: Vault) -> None:
    cid = await _customer(client, principals)
    bad = "p" * 61
    reads = [client.get(f"/v1/customers/{cid}", params={"purpose": PURPOSE}, headers=principals["sales"].headers)
             for _ in range(30)]
    attacks = [client.get("/v1/requests", params={"purpose": bad}, headers=principals["application"].headers)
               for _ in range(10)]
    results = await asyncio.gather(*reads, *attacks)
    assert [r.status_code for r in results[:30]] == [200] * 30
    assert {r.status_code for r in results[30:]} == {403}
    for r in results[30:]:
        assert len(r.text) < 2000
    async with vault.db.read() as session:
        rows = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.principal_id == principals["application"].principal.id,
            AuditEntryRow.action == "rights.request.list"))).all()
    assert len(rows) == 10
    assert all(r.purpose is not None and r.purpose.startswith("invalid:61:") for r in rows)


async def test_header_and_url_caps(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    h = {**principals["sales"].headers, "X-Purpose": "x" * 100_000}
    r = await client.get(f"/v1/customers/{uuid.uuid4()}", headers=h)
    assert r.status_code == 431
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get(f"/v1/customers/{uuid.uuid4()}", params={"purpose": "y" * 20_000},
                         headers=principals["sales"].headers)
    assert r.status_code == 414
    assert "yyyy" not in r.text
    # An unknown purpose under the caps is a 422 whose message is bounded, not an echo.
    r = await client.get(f"/v1/customers/{uuid.uuid4()}", params={"purpose": "z" * 5000},
                         headers=principals["sales"].headers)
    assert r.status_code == 422
    assert "z" * 100 not in r.text


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            pass
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
    except ConnectionResetError:
        pass
    data = await asyncio.wait_for(reader.read(4096), timeout=10)
    writer.close()
    return data


async def test_server_protocol_stops_reading_an_oversized_head() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_hello, http=BoundedHttpToolsProtocol, lifespan="off", log_level="critical")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):  # uvicorn exposes no start event
            if server.started:
                break
            await asyncio.sleep(0.01)
        ok = await _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200")
        big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Purpose: " + b"a" * 2_000_000 + b"\r\n\r\n"
        refused = await _exchange(port, big)
        assert refused.startswith(b"HTTP/1.1 431"), refused[:80]
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_audit_failure_answers_503(client: AsyncTestClient, principals: dict[str, Creds],  # type: ignore[type-arg]
                                         db_target: DbTarget) -> None:
    cid = await _customer(client, principals)
    engine = create_engine(sync_url(db_target.url))
    if db_target.backend == "postgres":
        block = ["CREATE FUNCTION t_block_audit() RETURNS trigger LANGUAGE plpgsql AS "
                 "$$ BEGIN RAISE EXCEPTION 'audit blocked by test'; END $$",
                 "CREATE TRIGGER t_block_audit BEFORE INSERT ON audit_log FOR EACH ROW "
                 "EXECUTE FUNCTION t_block_audit()"]
        unblock = ["DROP TRIGGER t_block_audit ON audit_log", "DROP FUNCTION t_block_audit()"]
    else:
        block = ["CREATE TRIGGER t_block_audit BEFORE INSERT ON audit_log BEGIN "
                 "SELECT RAISE(ABORT, 'audit blocked by test'); END"]
        unblock = ["DROP TRIGGER t_block_audit"]
    with engine.begin() as conn:
        for stmt in block:
            conn.execute(text(stmt))
    try:
        r = await client.get(f"/v1/customers/{cid}", params={"purpose": PURPOSE}, headers=principals["sales"].headers)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"] == "urn:vault:audit.write_failed"
        assert "Lee" not in r.text
    finally:
        with engine.begin() as conn:
            for stmt in unblock:
                conn.execute(text(stmt))
        engine.dispose()
    r = await client.get(f"/v1/customers/{cid}", params={"purpose": PURPOSE}, headers=principals["sales"].headers)
    assert r.status_code == 200
