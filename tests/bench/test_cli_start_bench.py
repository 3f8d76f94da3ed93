"""Bench: how long a `vault` command takes to start, beside a bare typer app in the same run.

Issue 13's row: any command that does not detect PII should start in under 0.5 s. Measured as
the median wall time and CPU time (user + system of the child) of `vault principals list --help`
(parses the command tree, runs nothing), `vault --help` and `vault principals list` against an
initialized vault, beside `python -c "import typer; ..."` (a bare typer app) and `python -c pass`
(the interpreter).

Python caches compiled bytecode by default (``__pycache__``), so an installed command compiles its
modules once, at its first start. The main rows run that way: bytecode goes to a cache directory under
``tmp_path`` (``PYTHONPYCACHEPREFIX``) and the `vault init` run fills it. Environments that set
``PYTHONDONTWRITEBYTECODE`` (this machine's shell does) compile every ``vault`` module at every start:
that row is reported beside it.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.bench.report import machine, write_section

ROOT = Path(__file__).resolve().parents[2]
RUNS = 9
TARGET_S = 0.5
BARE_TYPER = ("import typer\napp = typer.Typer()\n@app.command()\ndef main() -> None:\n    pass\n"
              "@app.command()\ndef other() -> None:\n    pass\napp(['main'])")


def _median(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of ``cmd``, in seconds."""
    walls, cpus = [], []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True, timeout=120)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def _imports(env: dict[str, str], prefixes: tuple[str, ...]) -> bool:
    probe = f"import sys, vault.cli.main; print(any(m.startswith({prefixes!r}) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def test_cli_start(tmp_path: Path) -> None:
    var = tmp_path / "var"
    base = {**os.environ, "VAULT_DATABASE_URL": f"sqlite+aiosqlite:///{var}/vault.db", "VAULT_VAR_DIR": str(var),
            "VAULT_CRYPTO__KEK_FILE": str(var / "keys" / "kek.json"), "VAULT_POLICY__DIRECTORY": str(ROOT / "policies"),
            "VAULT_RIGHTS__ERASURE_JOURNAL": str(var / "journal.jsonl")}
    cached = {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")
    uncached = {**base, "PYTHONDONTWRITEBYTECODE": "1"}
    vault = [sys.executable, "-m", "vault.cli.main"]
    subprocess.run([*vault, "init"], env=cached, capture_output=True, check=True, timeout=300)
    subprocess.run([*vault, "principals", "create", "--name", "bench-app", "--role", "application"], env=cached,
                   capture_output=True, check=True, timeout=120)
    for cmd in ([sys.executable, "-c", "pass"], [sys.executable, "-c", BARE_TYPER], [*vault, "--help"]):
        subprocess.run(cmd, env=cached, capture_output=True, check=True, timeout=120)  # fill the bytecode cache
    listed = subprocess.run([*vault, "principals", "list"], env=cached, capture_output=True, text=True, check=True)
    assert "bench-app" in listed.stdout
    interpreter = _median([sys.executable, "-c", "pass"], cached)
    bare = _median([sys.executable, "-c", BARE_TYPER], cached)
    root_help = _median([*vault, "--help"], cached)
    help_s = _median([*vault, "principals", "list", "--help"], cached)
    listing = _median([*vault, "principals", "list"], cached)
    compiled = _median([*vault, "principals", "list"], uncached)
    presidio = _imports(cached, ("presidio", "spacy"))
    status = "met" if listing[0] < TARGET_S else "missed"

    def row(label: str, figure: tuple[float, float], *, ratio: bool = True) -> str:
        wall, cpu = figure
        vs = f"{wall / bare[0]:.1f}x" if ratio else ""
        return f"| {label} | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms | {vs} |"

    write_section("cli-start", "\n".join([
        "## `vault` command start",
        "",
        machine(),
        "",
        f"Median of {RUNS} runs each (wall time, and CPU time: user + system of the process, which varies less"
        " with the machine's load); `vault principals list` opens the vault (key file, system keys, database,"
        " the policy files' digest) and lists one principal. Bytecode cached as Python does by default"
        " (filled by the `vault init` run), except in the last row. Imports Presidio at start: "
        + ("yes" if presidio else "no") + ".",
        "",
        "| command | wall time | CPU time | wall vs bare typer app |",
        "|---|---|---|---|",
        row("`python -c pass` (interpreter)", interpreter, ratio=False),
        row("bare typer app", bare),
        row("`vault --help`", root_help),
        row("`vault principals list --help`", help_s),
        row("`vault principals list`", listing),
        row("`vault principals list`, bytecode not cached (`PYTHONDONTWRITEBYTECODE=1`)", compiled),
        "",
        f"Target: under {TARGET_S * 1000:.0f} ms for commands that do not detect PII: **{status}**"
        f" ({listing[0] * 1000:.0f} ms wall, {listing[1] * 1000:.0f} ms CPU).",
    ]))
    assert not presidio
