"""Bench: `vault audit verify` over a million chained entries, beside SHA-256 of the same bytes.

Issue 13's row: verifying 1M entries takes under 5 s with bounded memory, CLI start included. A vault
is initialized with `vault init` (SQLite); its chain is then extended quickly with direct sqlite3
inserts, each hash computed by :func:`vault.audit.entry.entry_hash` (so verify checks exactly what the
audit log writes). The figure is the wall time of the `vault audit verify` process (interpreter,
imports, settings, the walk); its peak RSS is the child's maxrss. Baseline, same run: one hashlib
SHA-256 pass (C) over the same canonical JSON bytes the chain hashes. AUDIT_BENCH_N overrides the
entry count (default 1,000,000).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.bench.report import machine, write_section
from vault.audit.entry import GENESIS, HASHED_COLUMNS, OPTIONAL_HASHED_COLUMNS, canonical_ts, entry_hash

ROOT = Path(__file__).resolve().parents[2]
N = int(os.environ.get("AUDIT_BENCH_N", "1000000"))
TARGET_S = 5.0
COLS = (*HASHED_COLUMNS, *OPTIONAL_HASHED_COLUMNS, "prev_hash", "hash")


def _extend(path: Path, n: int) -> None:
    """Append ``n`` chained entries after the vault's current head."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    head = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    head_seq, prev = head or (0, GENESIS)
    sql = f"INSERT INTO audit_log ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})"
    principals = [uuid.uuid4() for _ in range(50)]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    batch = []
    for seq in range(head_seq + 1, head_seq + n + 1):
        row = {"seq": seq, "ts": t0 + timedelta(microseconds=seq * 1003), "principal_id": principals[seq % 50],
               "principal_name": f"svc-{seq % 50}", "role": "support", "action": "customer.read",
               "purpose": "service_delivery", "outcome": "allowed", "customer_id": uuid.uuid4(),
               "subject_count": 1, "subjects_digest": None, "fields": "name,phone", "request_id": f"r{seq}",
               "client_ip": "10.0.0.1", "detail": None, "key_prefix": "vk_ab12" if seq % 3 else None,
               "key_issuer": "operator:ops" if seq % 7 == 0 else None}
        h = entry_hash(row, prev)
        batch.append((seq, row["ts"].strftime("%Y-%m-%d %H:%M:%S.%f"), row["principal_id"].hex,
                      *(row[c] for c in COLS[3:8]), row["customer_id"].hex, *(row[c] for c in COLS[9:17]), prev, h))
        prev = h
        if len(batch) == 50_000:
            conn.executemany(sql, batch)
            batch.clear()
    conn.executemany(sql, batch)
    conn.commit()
    conn.close()


def _canonical_bytes(path: Path) -> bytes:
    """The canonical JSON of every entry (what the chain hashes), built outside the timed baseline."""
    conn = sqlite3.connect(path)
    parts = []
    for r in conn.execute(f"SELECT {', '.join(COLS)} FROM audit_log ORDER BY seq"):
        doc = dict(zip(HASHED_COLUMNS, r, strict=False))
        doc["ts"] = canonical_ts(datetime.fromisoformat(doc["ts"]))
        for col, value in zip(OPTIONAL_HASHED_COLUMNS, r[len(HASHED_COLUMNS):], strict=False):
            if value is not None:
                doc[col] = value
        doc["prev_hash"] = r[-2]
        parts.append(json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    conn.close()
    return b"".join(parts)


# `vault audit verify`, reporting the process's peak RSS at exit (VmHWM: getrusage's maxrss would include the
# forked pytest process before exec).
VERIFY = ("import atexit, sys\n"
          "def hwm():\n"
          "    with open('/proc/self/status') as f:\n"
          "        kb = next(line.split()[1] for line in f if line.startswith('VmHWM'))\n"
          "    sys.stderr.write(f'VmHWM {kb}\\n')\n"
          "atexit.register(hwm)\n"
          "sys.argv = ['vault', 'audit', 'verify']\n"
          "from vault.cli.main import main\n"
          "main()\n")


def _verify(env: dict[str, str], tmp_path: Path) -> tuple[float, float, float, str]:
    """Wall time, CPU time and peak RSS (MB) of one `vault audit verify` process, and its output."""
    out, err = tmp_path / "verify.out", tmp_path / "verify.err"
    with out.open("w") as sink, err.open("w") as errors:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", VERIFY], env=env, stdout=sink, stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
    assert os.waitstatus_to_exitcode(status) == 0, out.read_text() + err.read_text()
    hwm_kb = int(err.read_text().split("VmHWM ")[1].split()[0])
    return wall, usage.ru_utime + usage.ru_stime, hwm_kb / 1024, out.read_text()


def test_audit_verify(tmp_path: Path) -> None:
    var = tmp_path / "var"
    db = var / "vault.db"
    env = {**os.environ, "VAULT_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "VAULT_VAR_DIR": str(var),
           "VAULT_CRYPTO__KEK_FILE": str(var / "keys" / "kek.json"), "VAULT_POLICY__DIRECTORY": str(ROOT / "policies"),
           "VAULT_RIGHTS__ERASURE_JOURNAL": str(var / "journal.jsonl")}
    subprocess.run([sys.executable, "-m", "vault.cli.main", "init"], env=env, capture_output=True, check=True,
                   timeout=300)
    start_s, start_cpu, start_rss, _ = _verify(env, tmp_path)
    t = time.perf_counter()
    _extend(db, N)
    build_s = time.perf_counter() - t
    data = _canonical_bytes(db)
    t = time.perf_counter()
    hashlib.sha256(data).hexdigest()
    sha_s = time.perf_counter() - t
    load = os.getloadavg()[0]
    wall, cpu, rss_mb, stdout = _verify(env, tmp_path)
    entries = int(stdout.split("intact: ")[1].split(" entries")[0])
    per_million = start_s + (wall - start_s) * 1_000_000 / N
    status = "met" if per_million < TARGET_S else "missed"
    write_section("audit-verify", "\n".join([
        "## `vault audit verify`",
        "",
        machine(),
        "",
        f"A vault made by `vault init` (SQLite), its chain extended by {N:,} entries (direct inserts in"
        f" {build_s:.0f} s, hashes from `entry_hash`). The figure is the whole `vault audit verify` process:"
        f" interpreter start, imports, settings, the walk. Load average {load:.1f} when measured (2 cores"
        " shared with other jobs: read the CPU time beside the wall time).",
        "",
        "| what | wall | CPU | rate | vs SHA-256 |",
        "|---|---|---|---|---|",
        f"| SHA-256 of the same canonical bytes ({len(data) / 1e6:.0f} MB, one hashlib pass in C) | {sha_s:.2f} s |"
        f" | {N / sha_s:,.0f} entries/s | 1.0x |",
        f"| `vault audit verify`, {entries:,} entries (every hash recomputed, read from the database) |"
        f" {wall:.2f} s | {cpu:.2f} s | {entries / wall:,.0f} entries/s | {wall / sha_s:.1f}x |",
        f"| of which start: `vault audit verify` on the fresh vault | {start_s:.2f} s | {start_cpu:.2f} s | | |",
        "",
        f"Peak RSS of the verifying process: {rss_mb:.0f} MB, {start_rss:.0f} MB of it at start on the empty log"
        " (chunks of 10,000 entries, at most workers + 1 in memory; only checkpointed hashes are kept).",
        "",
        f"Target: 1M entries under {TARGET_S:.0f} s, memory bounded: **{status}**"
        f" ({per_million:.1f} s per million{'' if N == 1_000_000 else ', start + the walk scaled'}).",
    ]))
    assert entries >= N
