"""Spine benchmarks: bulk import, and the audited read/create path over real HTTP.

Run with `make bench`. Scale with BENCH_SCALE (default 100k customers; `1m` for a million).
PostgreSQL figures are taken when the server at BENCH_PG_URL (default the local one) answers.
Every figure is written beside a baseline measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.bench.data import dirty_count, write_bench_csv
from tests.bench.report import machine, write_section
from vault.access.caller import Caller
from vault.bootstrap import Vault, open_vault
from vault.config import CryptoSettings, PolicySettings, Settings
from vault.crypto.keys import generate_key_file, load_key_file
from vault.customers.importer import CustomerImporter
from vault.db.engine import Database, sync_url
from vault.db.migrate import upgrade_head
from vault.keys.store import ensure_system_keys

ROOT = Path(__file__).resolve().parents[2]
SCALE = {"1m": 1_000_000, "100k": 100_000, "10k": 10_000}.get(os.environ.get("BENCH_SCALE", "100k"), 100_000)
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
RESULTS: dict[str, list[str]] = {"import": [], "http": []}


def _pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def _fresh_pg() -> tuple[str, str]:
    from sqlalchemy.engine import make_url

    name = f"vault_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(sync_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False), name


def _drop_pg(name: str) -> None:
    admin = create_engine(sync_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _settings(url: str, var: Path) -> Settings:
    kek = var / "keys" / "kek.json"
    if not kek.exists():
        generate_key_file(kek)
    return Settings(database_url=url, var_dir=var, crypto=CryptoSettings(kek_file=kek),  # type: ignore[call-arg]
                    policy=PolicySettings(directory=ROOT / "policies"))  # type: ignore[call-arg]


async def _prepare(settings: Settings) -> None:
    upgrade_head(settings.database_url)
    db = Database(settings.database_url)
    async with db.write() as session:
        await ensure_system_keys(session, load_key_file(settings.crypto.kek_file))
    await db.dispose()


def _raw_insert(url: str, rows: list[list[str]]) -> float:
    """Baseline: the same CSV rows as plaintext, one executemany per 5,000 rows, into a scratch table."""
    engine = create_engine(sync_url(url))
    cols = ", ".join(f"c{i} TEXT" for i in range(15))
    marks = ", ".join(["?" if engine.dialect.name == "sqlite" else "%s"] * 15)
    with engine.begin() as conn:
        pk = "INTEGER PRIMARY KEY" if engine.dialect.name == "sqlite" else "BIGSERIAL PRIMARY KEY"
        conn.exec_driver_sql(f"CREATE TABLE raw_rows (id {pk}, {cols})")
    start = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        names = ", ".join(f"c{i}" for i in range(15))
        for i in range(0, len(rows), 5000):
            cur.executemany(f"INSERT INTO raw_rows ({names}) VALUES ({marks})", rows[i:i + 5000])
        raw.commit()
    finally:
        raw.close()
    elapsed = time.perf_counter() - start
    engine.dispose()
    return len(rows) / elapsed


async def _backend_cpu(vault: Vault) -> dict[int, float]:
    """CPU seconds so far of the PostgreSQL backends connected to the vault's database (a local server: read
    from /proc), by pid: the server's share of the import, which the client's CPU does not show."""
    async with vault.db.engine.connect() as conn:
        pids = (await conn.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars().all()
    tick = os.sysconf("SC_CLK_TCK")
    cpu: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu[int(pid)] = (int(fields[11]) + int(fields[12])) / tick
    return cpu


IMPORT_TABLES = ("customers", "customer_index", "customer_quality_flags", "consent_events", "consent_state")


def _schema_floor(url: str, customers: int) -> float:
    """Second baseline: the database work alone. The rows the import wrote to its five tables are copied with
    ``INSERT INTO copy SELECT * FROM table`` into empty copies carrying the same indexes, in one transaction:
    index maintenance and row writing without Python, crypto or the network. Returns customers/s."""
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            ddl = conn.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                                       "AND type IN ('table', 'index')").all()
            for kind, name, table, sql in ddl:
                if table in IMPORT_TABLES:
                    sql = re.sub(rf"\b{table}\b", f"floor_{table}", sql, count=1 if kind == "table" else 2)
                    if kind == "index":
                        sql = sql.replace(f"INDEX {name}", f"INDEX floor_{name}", 1)
                    conn.exec_driver_sql(sql)
        else:
            for table in IMPORT_TABLES:
                conn.exec_driver_sql(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING ALL)")
    start = time.perf_counter()
    with engine.begin() as conn:
        for table in IMPORT_TABLES:
            conn.exec_driver_sql(f"INSERT INTO floor_{table} SELECT * FROM {table}")
    elapsed = time.perf_counter() - start
    engine.dispose()
    return customers / elapsed


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_import(backend: str, tmp_path: Path) -> None:
    """`vault customers import`'s path (the vault's importer with its consent hook) on a realistic file: phone
    numbers in mixed writings, 1% bad rows, four consent flags per row."""
    if backend == "postgres" and not _pg_available():
        pytest.skip("no PostgreSQL server")
    csv_path = tmp_path / "customers.csv"
    rows = write_bench_csv(csv_path, SCALE, realistic=True)
    pg_name = None
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'vault.db'}"
    else:
        url, pg_name = _fresh_pg()
    try:
        settings = _settings(url, tmp_path / "var")
        asyncio.run(_prepare(settings))
        baseline = _raw_insert(url, rows)

        async def run() -> tuple[int, int, float, float, float, float | None]:
            vault = await open_vault(settings)
            try:
                server = await _backend_cpu(vault) if backend == "postgres" else {}
                start, cpu, kids = time.perf_counter(), time.process_time(), os.times()
                report = await vault.importer().run(
                    csv_path, Caller(None, purpose="service_delivery", operator="bench"), batch_size=5000)
                done = os.times()  # the sealing workers have exited: their CPU is in the children's times
                workers = (done.children_user + done.children_system) - (kids.children_user + kids.children_system)
                elapsed, used = time.perf_counter() - start, time.process_time() - cpu
                served = None
                if backend == "postgres":
                    after = await _backend_cpu(vault)
                    served = sum(v - server.get(pid, 0.0) for pid, v in after.items())
                return report.created, report.rejected, elapsed, used, workers, served
            finally:
                await vault.close()

        created, rejected, elapsed, cpu, workers, served = asyncio.run(run())
        assert created == SCALE - dirty_count(SCALE) and rejected == dirty_count(SCALE)
        floor = _schema_floor(url, created)
        rate = created / elapsed
        target = 30_000
        RESULTS["import"].append(
            f"| {backend} | {SCALE:,} ({rejected:,} bad) | {rate:,.0f} | {elapsed:.1f} s; CPU main {cpu:.1f} s "
            f"({cpu / created * 1e6:.0f} µs/customer), sealing workers {workers:.1f} s"
            + (f", server {served:.1f} s ({served / created * 1e6:.0f} µs/customer)" if served is not None else "")
            + f" | {baseline:,.0f} | {rate / baseline:.1%} | {floor:,.0f} | {rate / floor:.0%} | {target:,} | "
            f"{'met' if rate >= target else 'missed'} |")
    finally:
        if pg_name:
            _drop_pg(pg_name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(port: int, path: str = "/health", timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server on {port} did not come up")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants so far (from /proc), to report CPU per request:
    unlike throughput, it hardly depends on what else the shared machine runs."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    family, todo = {pid}, [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in family:
                family.add(child)
                todo.append(child)
    return sum(cpu.get(p, 0.0) for p in family)


# Constant throughput per wrk thread (2 threads): the next send time on a monotonic clock (LuaJIT's ffi).
PACED_LUA = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } vault_timespec;
int clock_gettime(int clk_id, vault_timespec *tp);
]]
local vault_ts = ffi.new("vault_timespec")
local vault_next = 0
function delay()
  ffi.C.clock_gettime(1, vault_ts)
  local now = tonumber(vault_ts.tv_sec) * 1000 + tonumber(vault_ts.tv_nsec) / 1e6
  if vault_next < now then vault_next = now end
  local wait = vault_next - now
  vault_next = vault_next + INTERVAL_MS
  return wait
end
"""


def _wrk(url: str, script: Path | None, duration: int = 10, connections: int = 32, *, rate: int | None = None,
         server_pid: int | None = None) -> dict[str, float]:
    """wrk against ``url``. ``rate``: offered load instead of back-to-back requests: each connection waits
    ``rate`` requests/s offered at a constant rate: each of wrk's two threads hands its connections send times
    ``2 / rate`` s apart on a monotonic clock (wrk's ``delay()`` returns the wait until the next free slot), so
    a fast answer does not lower the offered rate as a fixed think time would; at most ``connections`` requests
    are in flight. ``server_pid``: also report the server's CPU ms per request."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if rate is not None:
        paced = Path(str(script) + f".{rate}.lua") if script is not None else Path(f"/tmp/wrk-paced-{rate}.lua")
        body = script.read_text() if script is not None else ""
        paced.write_text(body + PACED_LUA.replace("INTERVAL_MS", f"{1000 * 2 / rate:.4f}"))
        script = paced
    if script is not None:
        cmd += ["-s", str(script)]
    before = _cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    used = _cpu_seconds(server_pid) - before if server_pid else 0.0

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    cpu_ms = 1000 * used / max(rps * duration, 1.0) if server_pid else 0.0
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "errors": float(non2xx.group(1)) if non2xx else 0.0,
            "cpu_ms": cpu_ms}


HELLO = """
from litestar import Litestar, get

@get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}

app = Litestar([hello])
"""


def measure_against_hello(tmp_path: Path, env: dict[str, str], workers: int, runs: list[Path],
                          paced: tuple[int, int] | None = None, long_run: tuple[int, int] | None = None,
                          ) -> tuple[dict[str, float], list[dict[str, float]]]:
    """wrk against a Litestar hello-world app (the baseline), then against `vault serve` once per Lua script
    (saturated: back-to-back requests). ``paced`` = (index into ``runs``, offered requests/s): that script runs
    once more at the offered rate, appended to the results. ``long_run`` = (index into ``runs``, seconds): that
    script once more for that long (saturated), appended last."""
    (tmp_path / "hello_app.py").write_text(HELLO)
    port = _free_port()
    hello = subprocess.Popen([sys.executable, "-m", "uvicorn", "hello_app:app", "--port", str(port), "--workers",
                              str(workers), "--no-access-log", "--log-level", "warning"], cwd=tmp_path)
    try:
        _wait_http(port, "/hello")
        base = _wrk(f"http://127.0.0.1:{port}/hello", None, server_pid=hello.pid)
    finally:
        hello.terminate()
        hello.wait(20)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "vault.cli.main", "serve", "--port", str(port),
                               "--workers", str(workers)], env=env, cwd=tmp_path)
    try:
        _wait_http(port)
        results = [_wrk(f"http://127.0.0.1:{port}", script, server_pid=server.pid) for script in runs]
        if paced is not None:
            results.append(_wrk(f"http://127.0.0.1:{port}", runs[paced[0]], rate=paced[1], server_pid=server.pid))
        if long_run is not None:
            results.append(_wrk(f"http://127.0.0.1:{port}", runs[long_run[0]], duration=long_run[1],
                                server_pid=server.pid))
    finally:
        server.terminate()
        server.wait(20)
    return base, results


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed (apt-get install wrk)")
def test_http(tmp_path: Path) -> None:
    workers = 2
    var = tmp_path / "var"
    url = f"sqlite+aiosqlite:///{var / 'vault.db'}"
    settings = _settings(url, var)
    asyncio.run(_prepare(settings))
    csv_path = tmp_path / "seed.csv"
    write_bench_csv(csv_path, 10_000, seed=11)

    async def seed() -> tuple[list[str], str]:
        from vault.audit.entry import Actor

        vault = await open_vault(settings)
        try:
            report = await CustomerImporter(vault.db, vault.keyring, vault.policies.catalogue, vault.audit,
                                             collection=vault.collection).run(
                csv_path, Caller(None, purpose="service_delivery", operator="bench"), keep_ids=True)
            async with vault.db.write() as session:
                _, key = await vault.principals(session).create("bench-app", "application", Actor.cli("bench"))
            assert key is not None
            return [str(i) for i in report.created_ids], key.secret
        finally:
            await vault.close()

    ids, key = asyncio.run(seed())
    env = {**os.environ, "VAULT_DATABASE_URL": url, "VAULT_CRYPTO__KEK_FILE": str(settings.crypto.kek_file),
           "VAULT_POLICY__DIRECTORY": str(ROOT / "policies"), "VAULT_VAR_DIR": str(var)}
    get_lua = tmp_path / "get.lua"
    get_lua.write_text(
        "local ids = {" + ",".join(json.dumps(i) for i in ids[:5000]) + "}\n"
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        "request = function()\n"
        '  return wrk.format("GET", "/v1/customers/" .. ids[math.random(#ids)] .. "?purpose=service_delivery")\n'
        "end\n")
    post_lua = tmp_path / "post.lua"
    post_lua.write_text(
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "local n = 0\n"
        "setup = function(thread) thread:set('tid', tostring(math.random(1, 1e9))) end\n"
        "request = function()\n"
        "  n = n + 1\n"
        "  local ref = 'P' .. tid .. '-' .. n\n"
        "  local body = '{\"customer_ref\":\"' .. ref .. '\",\"name\":\"홍길동\",\"email\":\"' .. ref .. "
        "'@example.com\",\"phone\":\"010-2345-6789\",\"birth_date\":\"1990-01-02\",\"gender\":\"M\"}'\n"
        '  return wrk.format("POST", "/v1/customers?purpose=service_delivery", nil, body)\n'
        "end\n")
    rows = []
    base, (get, post, paced, long) = measure_against_hello(tmp_path, env, workers, [get_lua, post_lua],
                                                           paced=(0, 1500), long_run=(0, 60))
    assert get["errors"] == 0
    assert post["errors"] == 0
    assert paced["errors"] == 0
    assert long["errors"] == 0

    def line(name: str, r: dict[str, float], target: str, met: bool) -> str:
        return (f"| {name} | {r['rps']:,.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['cpu_ms']:.2f} | "
                f"{base['rps']:,.0f} | {base['cpu_ms']:.2f} | {r['rps'] / base['rps']:.1%} | {target} | "
                f"{'met' if met else 'missed'} |")

    hello = base["rps"]
    rows.append(line("GET /v1/customers/{id} (purpose-checked, 3+ field decrypts, audited), saturated", get,
                     f">= 45% of hello world ({0.45 * hello:,.0f} rps)", get["rps"] >= 0.45 * hello))
    rows.append(line("GET /v1/customers/{id}, 1,500 rps offered (constant rate, at most 32 in flight)", paced,
                     "p50 < 3 ms, p99 < 10 ms", paced["p50"] < 3 and paced["p99"] < 10 and paced["rps"] >= 1400))
    rows.append(line("POST /v1/customers (validate, seal, 2 blind indexes, audited in the same commit), saturated",
                     post, f">= 9% of hello world ({0.09 * hello:,.0f} rps)", post["rps"] >= 0.09 * hello))
    rows.append(line(f"GET /v1/customers/{{id}} for 60 s after the runs above (the audit log keeps growing); "
                     f"{long['rps'] / get['rps']:.0%} of the 10 s GET figure", long,
                     "no decay (>= 90% of the 10 s GET figure)", long["rps"] >= 0.9 * get["rps"]))
    RESULTS["http"] = rows


def teardown_module() -> None:
    if RESULTS["import"]:
        write_section("spine-import", "\n".join([
            "## Bulk import (`vault customers import`)",
            "",
            machine(),
            "",
            "The path of `vault customers import` (the vault's importer with its consent hook) on a realistic"
            " file: phone numbers in six writings (dashes, none, +82, spaces, Seoul landlines),"
            " 1% bad rows (reported by line, the rest kept), four consent flags per row. Each"
            " customer: a per-customer DEK wrapped under the KEK, one AES-256-GCM ciphertext per field (10 fields),"
            " blind indexes for customer_ref/email/phone/RRN, ~3.7 consent events and states, one bulk audit entry"
            " per 5,000-row transaction; sealing runs in worker processes while the previous batch is written with"
            " the driver's executemany (SQLite), the consents on SQLite by INSERT ... SELECT from a per-connection"
            " stage of (event id, customer id, decision code); on PostgreSQL the customers by INSERT ... SELECT"
            " unnest(arrays) and their blind indexes, flags and consents by binary COPY, checked against customers"
            " once per statement (migration 0011refs)."
            " CPU is the main process's and the sealing workers' (including their start), and on PostgreSQL the"
            " server backends' (read from /proc); unlike throughput it hardly depends on what else the machine"
            " runs.",
            "",
            "Baselines, same run and database: (1) the same CSV rows inserted as plaintext with the driver's"
            " executemany into one scratch table without indexes; (2) the *schema floor*: the rows the import wrote"
            " to its five tables copied with `INSERT INTO copy SELECT * FROM table` into empty copies with the same"
            " indexes (the database's own work, no Python; on PostgreSQL the copies, made with `LIKE ... INCLUDING"
            " ALL`, carry no foreign keys or triggers).",
            "",
            "| database | rows | vault import (customers/s) | time | raw insert (rows/s) | ratio | schema floor "
            "(customers/s) | ratio | target | status |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *RESULTS["import"],
        ]))
    if RESULTS["http"]:
        write_section("spine-http", "\n".join([
            "## Audited read and create over HTTP",
            "",
            machine(),
            "",
            "`vault serve` with 2 uvicorn workers on SQLite (WAL), 10,000 seeded customers, wrk with 2 threads and 32"
            " connections for 10 s on loopback: back-to-back (saturated shape: p50 is about 32 / throughput by"
            " Little's law), and at an offered 1,500 requests/s at a constant rate (each wrk thread gives its"
            " connections send times 2/1500 s apart on a monotonic clock, at most 32 requests in flight; latency"
            " counts from each request's send). Baseline: a Litestar hello-world app under the same uvicorn"
            " settings, same run. wrk, the server and its workers share the 2 cores. *CPU ms/req* is the server's"
            " user + system CPU (all its processes and threads) divided by the requests served: unlike"
            " throughput, it hardly depends on what else the machine runs.",
            "",
            "| request | rps | p50 ms | p99 ms | CPU ms/req | hello-world rps | hello CPU ms/req | ratio | target "
            "| status |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *RESULTS["http"],
        ]))
