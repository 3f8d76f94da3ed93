"""Write a benchmark section into docs/benchmarks.md between named markers."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
HEAD = """# Benchmarks

Figures come from `make bench` (pytest files under `tests/bench/`), each beside a
baseline measured in the same run on the same machine, because this 2-core
machine is noisy. Sections are rewritten by the benchmark that owns them.
"""


def machine() -> str:
    """One line describing where the figures were taken."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=False, cwd=DOC.parent).stdout.strip()
    except OSError:
        commit = "?"
    cpu = platform.processor() or platform.machine()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"_Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu}, Python {platform.python_version()}, "
            f"commit {commit or '?'}; load average {load} (1, 5, 15 min) when the section was written._")


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else HEAD
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")
