"""Consent benchmarks: streamed contact resolution vs a raw SELECT, and granting consent over HTTP.

Run with `make bench`. Scale with BENCH_SCALE (default 100k customers, `1m` for a million; half consented).
PostgreSQL figures are taken when the server at BENCH_PG_URL (default the local one) answers. Figures go
between `<!-- consent:start -->` and `<!-- consent:end -->` in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert

from tests.bench.report import DOC, machine, write_section
from tests.bench.test_spine_bench import (
    ROOT,
    SCALE,
    _drop_pg,
    _fresh_pg,
    _pg_available,
    _prepare,
    _settings,
    measure_against_hello,
)
from vault.access.caller import Caller
from vault.audit.entry import Actor
from vault.bootstrap import open_vault
from vault.consent.contacts import ContactQuery
from vault.consent.models import ConsentStateRow
from vault.customers.models import CustomerIndexRow, CustomerRow
from vault.customers.records import seal_new
from vault.db.engine import sync_url

RESULTS: dict[str, list[str]] = {"contacts": [], "http": []}
CONTACTS_HEADER = ("| database | customers | contacts | vault contacts/s | pass 1 + audit | total | NDJSON |"
                   " CPU per contact | first call contacts/s | raw SELECT rows/s | ratio | target | status |")
HTTP_HEADER = ("| request | rps | p50 ms | p99 ms | CPU ms/req | hello-world rps | hello CPU ms/req | ratio | target "
               "| status |")
BATCH = 10_000
RAW_SQL = """
SELECT c.id, c.kek_version, c.wrapped_dek, c.dek_version, c.sealed
FROM consent_state s JOIN customers c ON c.id = s.customer_id
WHERE s.purpose = 'marketing_email' AND s.channel = 'email' AND s.status = 'granted'
  AND c.status = 'active' AND c.erased_at IS NULL
ORDER BY s.customer_id
"""


async def _seed(settings, n: int) -> None:  # type: ignore[no-untyped-def]
    vault = await open_vault(settings)
    now = datetime.now(UTC)
    try:
        for start in range(0, n, BATCH):
            rows, index_rows, states = [], [], []
            for i in range(start, min(n, start + BATCH)):
                sealed = seal_new(vault.keyring, vault.policies.catalogue, {
                    "customer_ref": f"C{i:08d}", "name": "김민서", "email": f"user{i}@example.com"})
                rows.append(sealed.row)
                index_rows.extend(sealed.index_rows)
                if i % 2 == 0:
                    states.append({"customer_id": sealed.row["id"], "purpose": "marketing_email", "channel": "email",
                                   "status": "granted", "granted_at": now, "notice_version": "2026-01",
                                   "notice_hash": "0" * 64, "event_id": uuid.uuid4(), "updated_at": now})
            async with vault.db.write() as session:
                await session.execute(insert(CustomerRow), rows)
                await session.execute(insert(CustomerIndexRow), index_rows)
                await session.execute(insert(ConsentStateRow), states)
    finally:
        await vault.close()


def _raw_select(url: str) -> tuple[int, float]:
    engine = create_engine(sync_url(url))
    raw = engine.raw_connection()
    try:
        start = time.perf_counter()
        cur = raw.cursor()
        cur.execute(RAW_SQL)
        count = 0
        while True:
            batch = cur.fetchmany(5000)
            if not batch:
                break
            count += len(batch)
        elapsed = time.perf_counter() - start
    finally:
        raw.close()
        engine.dispose()
    return count, elapsed


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (Linux /proc; the workers are alive, so RUSAGE_CHILDREN
    would not count them)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def _resolve(settings) -> list[tuple[int, float, float, int, float]]:  # type: ignore[no-untyped-def]
    """Two resolutions by one vault: the first starts the worker processes, the second finds them running
    (as every call after a server's first does). Each: (lines, pass 1 + audit s, total s, bytes, CPU s of this
    process and the workers; the database server's not included)."""
    vault = await open_vault(settings)
    runs = []
    try:
        for _ in range(2):
            resolver = vault.contacts()
            caller = Caller(None, purpose="marketing_email", operator="bench")
            workers = list(getattr(vault.contact_pool._executor, "_processes", None) or {})
            cpu = _cpu_seconds([os.getpid(), *workers])
            start = time.perf_counter()
            plan = await resolver.plan(ContactQuery("email"), caller)
            planned = time.perf_counter() - start
            lines = size = 0
            async for chunk in resolver.stream(plan):
                lines += chunk.count(b"\n")
                size += len(chunk)
            total = time.perf_counter() - start
            workers_after = list(getattr(vault.contact_pool._executor, "_processes", None) or {})
            cpu = _cpu_seconds([os.getpid(), *workers_after]) - cpu
            assert lines == plan.count
            runs.append((lines, planned, total, size, cpu))
        return runs
    finally:
        await vault.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_contacts_stream(backend: str, tmp_path: Path) -> None:
    if backend == "postgres" and not _pg_available():
        pytest.skip("no PostgreSQL server")
    pg_name = None
    url = f"sqlite+aiosqlite:///{tmp_path / 'vault.db'}" if backend == "sqlite" else None
    if url is None:
        url, pg_name = _fresh_pg()
    try:
        settings = _settings(url, tmp_path / "var")
        asyncio.run(_prepare(settings))
        t = time.perf_counter()
        asyncio.run(_seed(settings, SCALE))
        seeded = time.perf_counter() - t
        load = os.getloadavg()[0]
        raw_count, raw_s = _raw_select(url)
        (cold_lines, _, cold_total, _, _), (lines, planned, total, size, cpu) = asyncio.run(_resolve(settings))
        raw_count_after, raw_s_after = _raw_select(url)
        assert lines == cold_lines == raw_count == raw_count_after == (SCALE + 1) // 2
        # The baseline is taken before and after (the machine is shared): the better of the two.
        rate, raw_rate = lines / total, raw_count / min(raw_s, raw_s_after)
        RESULTS["contacts"].append(
            f"| {backend} (load average {load:.1f}) | {SCALE:,} | {lines:,} | {rate:,.0f} | {planned:.2f} s | "
            f"{total:.2f} s | "
            f"{size / total / 1e6:.1f} MB/s | {cpu / lines * 1e6:.1f} µs | {cold_lines / cold_total:,.0f} | "
            f"{raw_rate:,.0f} | "
            f"{rate / raw_rate:.1%} | >= 100,000 | {'met' if rate >= 100_000 else 'missed'} |")
        print(f"seeded {SCALE} in {seeded:.1f}s; resolve {rate:,.0f}/s (first call {cold_lines / cold_total:,.0f}/s);"
              f" raw {raw_rate:,.0f}/s")
    finally:
        if pg_name:
            _drop_pg(pg_name)


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed (apt-get install wrk)")
def test_grant_http(tmp_path: Path) -> None:
    workers = 2
    var = tmp_path / "var"
    url = f"sqlite+aiosqlite:///{var / 'vault.db'}"
    settings = _settings(url, var)
    asyncio.run(_prepare(settings))
    asyncio.run(_seed(settings, 10_000))

    async def principal() -> tuple[list[str], str]:
        vault = await open_vault(settings)
        try:
            async with vault.db.write() as session:
                _, key = await vault.principals(session).create("bench-app", "application", Actor.cli("bench"))
                ids = [str(i) for i in (await session.scalars(
                    CustomerRow.__table__.select().with_only_columns(CustomerRow.id).limit(5000))).all()]
            assert key is not None
            return ids, key.secret
        finally:
            await vault.close()

    ids, key = asyncio.run(principal())
    env = {**os.environ, "VAULT_DATABASE_URL": url, "VAULT_CRYPTO__KEK_FILE": str(settings.crypto.kek_file),
           "VAULT_POLICY__DIRECTORY": str(ROOT / "policies"), "VAULT_VAR_DIR": str(var)}
    body = json.dumps({"consents": [{"purpose": "marketing_email", "action": "grant", "notice_version": "2026-01"},
                                    {"purpose": "marketing_sms", "action": "grant", "notice_version": "2026-01"}],
                       "source": "app", "evidence": {"ip": "203.0.113.9", "user_agent": "bench/1.0"}})
    lua = tmp_path / "grant.lua"
    lua.write_text(
        "local ids = {" + ",".join(json.dumps(i) for i in ids) + "}\n"
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"local body = {json.dumps(body)}\n"
        "request = function()\n"
        '  return wrk.format("POST", "/v1/customers/" .. ids[math.random(#ids)] .. '
        '"/consents?purpose=service_delivery", nil, body)\n'
        "end\n")
    base, (grant,) = measure_against_hello(tmp_path, env, workers, [lua])
    assert grant["errors"] == 0
    RESULTS["http"].append(
        f"| POST /v1/customers/{{id}}/consents (2 purposes: lock customer, seal evidence, 2 events + state, "
        f"Ed25519 receipt, audit in the same commit) | {grant['rps']:,.0f} | {grant['p50']:.1f} | "
        f"{grant['p99']:.1f} | {grant['cpu_ms']:.2f} | {base['rps']:,.0f} | {base['cpu_ms']:.2f} | "
        f"{grant['rps'] / base['rps']:.1%} | >= 1,000 rps | "
        f"{'met' if grant['rps'] >= 1000 else 'missed'} |")


def _previous_table(first_cell: str) -> list[str]:
    """The table of this section whose header starts with ``first_cell``, header included, as
    docs/benchmarks.md has it now (a run of only one of the two benchmarks keeps the other's figures)."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if "<!-- consent:start -->" not in text or "<!-- consent:end -->" not in text:
        return []
    section = text.split("<!-- consent:start -->", 1)[1].split("<!-- consent:end -->", 1)[0].splitlines()
    starts = [i for i, line in enumerate(section) if line.startswith(first_cell)]
    if not starts:
        return []
    table = []
    for line in section[starts[0]:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return table


def teardown_module() -> None:
    if not (RESULTS["contacts"] or RESULTS["http"]):
        return
    contacts = ([CONTACTS_HEADER, "|---" * CONTACTS_HEADER.count(" | ") + "|---|", *RESULTS["contacts"]]
                if RESULTS["contacts"] else _previous_table("| database |"))
    http = ([HTTP_HEADER, "|---" * HTTP_HEADER.count(" | ") + "|---|", *RESULTS["http"]]
            if RESULTS["http"] else _previous_table("| request |"))
    kept = ("_Not re-run this time; the figures of the previous run are kept (its commit and date are in git"
            " history)._")
    write_section("consent", "\n".join([
        "## Consent: contact resolution and granting",
        "",
        machine(),
        "",
        "**Contact resolution** (`GET /v1/contacts?purpose=marketing_email&channel=email`, measured through the"
        " domain resolver the endpoint streams): customers seeded with sealed name/email and a blind index, every"
        " second one with a current marketing_email consent. The vault's figure includes pass 1 (id-only keyset"
        " scan on the synchronous driver, in a thread, then one bulk audit entry with every id in"
        " `audit_subjects`, committed before the first byte) and pass 2 (ranges of 5,000 audited ids, each read,"
        " unwrapped, decrypted and encoded as NDJSON by one of the worker processes; the first ranges are read"
        " while the audit entry commits). It is the second call of one vault, whose worker processes are running"
        " as in a serving process after its first large answer; the first call, which also starts them, is beside"
        " it. Baseline: a raw SELECT of the same rows (ids, wrapped DEKs, ciphertexts) with the synchronous driver,"
        " same database, taken before and after the vault's calls (the better of the two). CPU per contact: user +"
        " system time of the calling process and the workers during the second call, over its contacts (the"
        " database server's not included), a figure the machine's other load changes less. The machine's 1-minute"
        " load average when the row started is beside the database (2 cores, shared with other sessions).",
        "",
        *([] if RESULTS["contacts"] else [kept, ""]),
        *contacts,
        "",
        "**Granting consent over HTTP**: `vault serve`, 2 uvicorn workers, SQLite (WAL), 10,000 customers, wrk"
        " 2 threads x 32 connections back-to-back for 10 s on loopback (saturated: p50 ~ 32 / throughput). Each"
        " request is one write transaction. Baseline: Litestar hello world under the same uvicorn settings, same"
        " run; wrk, server and workers share the cores. *CPU ms/req*: the server's user + system CPU (all its"
        " processes and threads) per request served, which hardly depends on what else the machine runs.",
        "",
        *([] if RESULTS["http"] else [kept, ""]),
        *http,
        "",
        "Reproduce: `make bench` (or `.venv/bin/pytest tests/bench/test_consent_bench.py -o addopts='' -p"
        " no:cacheprovider -s`); `BENCH_SCALE=1m` for a million customers.",
    ]))
