"""Spot check of the 1M-customer extract on a database the extract bench already seeded.

    .venv/bin/python tests/bench/extract_spot.py sqlite+aiosqlite:////path/to/bench.db /path/to/var

Seeding a million customers takes longer than the extract itself (about 8 minutes on SQLite), so
on a machine that is quiet only for a few minutes this times, in the same minute, the extract
(parquet, the bench's spec) and the bench's raw SELECT + CSV baseline on a database seeded before
(for instance a copy of the one ``test_extract_bench.py`` builds; ``var`` holds its key file), and
prints the load average around them. Not a substitute for ``make bench``: it writes no figures.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path


def main() -> None:
    from tests.bench import test_extract_bench as bench
    from tests.bench.test_spine_bench import _settings

    url, var = sys.argv[1], Path(sys.argv[2])
    settings = _settings(url, var)
    print("load average", os.getloadavg())
    raw_s, rows = bench._raw(url, var / "raw.csv")
    print(f"raw SELECT + CSV of the sealed rows: {raw_s:.2f} s, {rows:,} rows")
    secs, m = asyncio.run(bench._extract(settings, var / "spot.parquet"))
    print(f"extract parquet: {secs:.2f} s; {m['rows']:,} rows of {m['eligible_customers']:,} eligible, "
          f"{m['suppressed_rows']:,} suppressed")
    print("load average", os.getloadavg())


if __name__ == "__main__":  # worker processes are spawned: guard the entry point
    main()
