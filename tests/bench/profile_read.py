"""Profile GET /v1/customers/{id} in process (no server, no HTTP client): where a read spends its time.

    .venv/bin/python tests/bench/profile_read.py [N]

Seeds a fresh SQLite vault under a temporary directory, drives the ASGI app directly N times
(sequentially) under cProfile and prints the functions by own and cumulative time. Not a
benchmark (see test_spine_bench.py for throughput beside its baselines): it shows the split
between Litestar, the guard, the row fetch, crypto and the audit commit.
"""
import asyncio
import cProfile
import logging
import pstats
import sys
import tempfile
import time
from pathlib import Path

from vault.access.caller import Caller
from vault.api.app import create_app
from vault.audit.entry import Actor
from vault.bootstrap import open_vault
from vault.config import CryptoSettings, PolicySettings, RightsSettings, Settings
from vault.crypto.keys import generate_key_file, load_key_file
from vault.db.engine import Database
from vault.db.migrate import upgrade_head
from vault.keys.store import ensure_system_keys

ROOT = Path(__file__).resolve().parents[2]
N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000

logging.disable(logging.INFO)


async def main() -> None:
    var = Path(tempfile.mkdtemp())
    kek = var / "kek.json"
    generate_key_file(kek)
    url = f"sqlite+aiosqlite:///{var}/v.db"
    upgrade_head(url)
    s = Settings(database_url=url, var_dir=var, crypto=CryptoSettings(kek_file=kek),
                 policy=PolicySettings(directory=ROOT / "policies"), rights=RightsSettings(erasure_journal=var / "j"))
    db = Database(url)
    async with db.write() as session:
        await ensure_system_keys(session, load_key_file(kek))
    await db.dispose()
    v = await open_vault(s)
    async with v.db.write() as session:
        _, key = await v.principals(session).create("app", "application", Actor.cli())
        values = {"customer_ref": "C1", "name": "Kim", "email": "k@example.org", "phone": "010-2345-6789"}
        view, _ = await v.customers(session).create(values, Caller(None, purpose="service_delivery"))
    await v.close()
    app = create_app(s)
    for hook in app.on_startup:
        await hook(app)
    path = f"/v1/customers/{view.id}"
    headers = [(b"authorization", f"Bearer {key.secret}".encode()), (b"host", b"t")]
    scope_base = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                  "path": path, "raw_path": path.encode(), "query_string": b"purpose=service_delivery",
                  "headers": headers, "client": ("127.0.0.1", 1234), "server": ("t", 80), "root_path": ""}
    status = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(msg):
        if msg["type"] == "http.response.start":
            status.append(msg["status"])
    async def one():
        await app(dict(scope_base, state={}), receive, send)
    for _ in range(300):
        await one()
    assert set(status) == {200}, status[:5]
    pr = cProfile.Profile()
    t = time.perf_counter()
    pr.enable()
    for _ in range(N):
        await one()
    pr.disable()
    dt = time.perf_counter() - t
    print(f"{N} GETs in {dt:.2f}s: {N/dt:.0f}/s in-process, sequential ({dt/N*1e6:.0f} us each, profiled)")
    st = pstats.Stats(pr)
    st.sort_stats("tottime").print_stats(40)
    st.sort_stats("cumulative").print_stats(60)

asyncio.run(main())
