"""Bench: how long a `vault` command takes to start, beside a bare typer app in the same run.

Issue 13's row: any command that does not detect PII should start in under 0.5 s. Measured as
the median wall time of `vault principals list --help` (parses the command tree, imports every
command module, runs nothing) and of `vault principals list` against an initialized vault, beside
`python -c "import typer; ..."` (a bare typer app) and `python -c pass` (the interpreter).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.bench.report import machine, write_section

ROOT = Path(__file__).resolve().parents[2]
RUNS = 7
TARGET_S = 0.5
BARE_TYPER = ("import typer\napp = typer.Typer()\n@app.command()\ndef main() -> None:\n    pass\n"
              "@app.command()\ndef other() -> None:\n    pass\napp(['main'])")


def _median(cmd: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True, timeout=120)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _imports_presidio(env: dict[str, str]) -> bool:
    probe = "import sys, vault.cli.main; print(any(m.startswith(('presidio', 'spacy')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def test_cli_start(tmp_path: Path) -> None:
    var = tmp_path / "var"
    env = {**os.environ, "VAULT_DATABASE_URL": f"sqlite+aiosqlite:///{var}/vault.db", "VAULT_VAR_DIR": str(var),
           "VAULT_CRYPTO__KEK_FILE": str(var / "keys" / "kek.json"), "VAULT_POLICY__DIRECTORY": str(ROOT / "policies"),
           "VAULT_RIGHTS__ERASURE_JOURNAL": str(var / "journal.jsonl")}
    vault = [sys.executable, "-m", "vault.cli.main"]
    subprocess.run([*vault, "init"], env=env, capture_output=True, check=True, timeout=300)
    interpreter = _median([sys.executable, "-c", "pass"], env)
    bare = _median([sys.executable, "-c", BARE_TYPER], env)
    help_s = _median([*vault, "principals", "list", "--help"], env)
    listing = _median([*vault, "principals", "list"], env)
    presidio = _imports_presidio(env)
    status = "met" if listing < TARGET_S else "missed"
    write_section("cli-start", "\n".join([
        "## `vault` command start",
        "",
        machine(),
        "",
        f"Median of {RUNS} runs each; `vault principals list` opens the vault (policies, key file, database)"
        " and lists principals. Imports Presidio at start: " + ("yes" if presidio else "no") + ".",
        "",
        "| command | wall time | vs bare typer app |",
        "|---|---|---|",
        f"| `python -c pass` (interpreter) | {interpreter * 1000:.0f} ms | |",
        f"| bare typer app | {bare * 1000:.0f} ms | 1.0x |",
        f"| `vault principals list --help` | {help_s * 1000:.0f} ms | {help_s / bare:.1f}x |",
        f"| `vault principals list` | {listing * 1000:.0f} ms | {listing / bare:.1f}x |",
        "",
        f"Target: under {TARGET_S * 1000:.0f} ms for commands that do not detect PII: **{status}**"
        f" ({listing * 1000:.0f} ms).",
    ]))
    assert not presidio
