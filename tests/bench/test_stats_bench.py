"""DP statistics benchmark: GET /v1/stats/counts latency over HTTP beside a Litestar hello world, same run.

Run with `make bench` (or `pytest tests/bench/test_stats_bench.py`). One client sends requests back to back
(latency shape: p50 is the time of one request, not queueing); `vault serve` with 1 worker on SQLite.
Figures go between `<!-- stats:start -->` and `<!-- stats:end -->` in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.bench.report import machine, write_section
from tests.bench.test_extract_bench import _seed
from tests.bench.test_spine_bench import HELLO, ROOT, _free_port, _prepare, _settings, _wait_http
from vault.access.caller import Caller
from vault.audit.entry import Actor
from vault.bootstrap import open_vault
from vault.detection import PiiDetector, build_analyzer

CUSTOMERS = 20_000
REQUESTS = 1000
TARGET_MS = 20.0


def _latencies(client: httpx.Client, url: str, params: dict[str, str] | None = None,
               headers: dict[str, str] | None = None) -> list[float]:
    for _ in range(50):  # warm-up (connections, caches, first OpenDP measurement)
        client.get(url, params=params, headers=headers).raise_for_status()
    out = []
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        client.get(url, params=params, headers=headers).raise_for_status()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def test_dp_counts_latency(tmp_path: Path) -> None:
    var = tmp_path / "var"
    url = f"sqlite+aiosqlite:///{var / 'vault.db'}"
    settings = _settings(url, var)
    asyncio.run(_prepare(settings))
    asyncio.run(_seed(settings, CUSTOMERS))

    async def setup() -> str:
        vault = await open_vault(settings)
        try:
            async with vault.db.write() as session:
                analyst, key = await vault.principals(session).create("bench-analyst", "analyst", Actor.cli("bench"))
            assert key is not None
            analysts = vault.analysts(lambda: PiiDetector(build_analyzer()))
            operator = Caller(None, purpose="analytics", operator="bench")
            await analysts.projects.create("bench", operator, epsilon_budget=100.0, members=[analyst.id])
            await analysts.stats.refresh(operator)
            return key.secret
        finally:
            await vault.close()

    key = asyncio.run(setup())
    (tmp_path / "hello_app.py").write_text(HELLO)
    port = _free_port()
    hello = subprocess.Popen([sys.executable, "-m", "uvicorn", "hello_app:app", "--port", str(port), "--workers", "1",
                              "--no-access-log", "--log-level", "warning"], cwd=tmp_path)
    try:
        _wait_http(port, "/hello")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            base = _latencies(client, "/hello")
    finally:
        hello.terminate()
        hello.wait(20)
    env = {**os.environ, "VAULT_DATABASE_URL": url, "VAULT_CRYPTO__KEK_FILE": str(settings.crypto.kek_file),
           "VAULT_POLICY__DIRECTORY": str(ROOT / "policies"), "VAULT_VAR_DIR": str(var)}
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "vault.cli.main", "serve", "--port", str(port), "--workers", "1"],
                              env=env, cwd=tmp_path)
    try:
        _wait_http(port)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            small = _latencies(client, "/v1/stats/counts", {"project": "bench", "by": "gender", "epsilon": "0.001"},
                               headers)
            wide = _latencies(client, "/v1/stats/counts", {"project": "bench", "by": "age_band,region",
                                                           "epsilon": "0.001"}, headers)
    finally:
        server.terminate()
        server.wait(20)
    rows = []
    for label, values in (("Litestar hello world (baseline, same run)", base),
                          ("GET /v1/stats/counts?by=gender (4 groups)", small),
                          ("GET /v1/stats/counts?by=age_band,region (380 groups)", wide)):
        p50 = _p(values, 50)
        verdict = "" if values is base else (" met" if p50 < TARGET_MS else " MISSED")
        rows.append(f"| {label} | {p50:.1f} | {_p(values, 99):.1f} | {statistics.fmean(values):.1f} |"
                    f"{' < 20 ms' + verdict if values is not base else ' -'} |")
    write_section("stats", "\n".join([
        "## Differentially private counts over HTTP",
        "",
        machine(),
        "",
        f"`vault serve` (1 uvicorn worker, SQLite WAL), {CUSTOMERS:,} customers (80% consenting to analytics) in the"
        " statistics snapshot; one client sends requests back to back (latency shape, no queueing), "
        f"{REQUESTS:,} measured after 50 warm-up requests. Each query checks the API key, the permission and "
        "project membership, charges ε to the project's ledger with a conditional UPDATE and audits in the same "
        "write transaction, groups the snapshot's cells over the public domain and adds OpenDP discrete Laplace "
        "noise. Baseline: a Litestar hello world under the same uvicorn settings, same client, same run.",
        "",
        "| request | p50 ms | p99 ms | mean ms | target |",
        "|---|---|---|---|---|",
        *rows,
    ]))
    assert _p(small, 50) > 0
