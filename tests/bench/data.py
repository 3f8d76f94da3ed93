"""Fast synthetic import rows for benchmarks (Faker is too slow for a million rows)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from vault.customers.importer import HEADER
from vault.lib.krid import rrn_checksum_ok

SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN = "민서준지현우예은도하윤수아영재성진혜주원"
CITIES = [("서울특별시", "강남구"), ("서울특별시", "마포구"), ("부산광역시", "해운대구"), ("경기도", "성남시 분당구"),
          ("대구광역시", "수성구"), ("인천광역시", "연수구")]
EN_FIRST = ["James", "Mary", "John", "Linda", "David", "Susan", "Daniel", "Emma", "Noah", "Olivia"]
EN_LAST = ["Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Lewis", "Walker"]


def _rrn(rng: random.Random, yy: int, mm: int, dd: int, digit: int) -> str:
    body = f"{yy:02d}{mm:02d}{dd:02d}{digit}{rng.randrange(10**5):05d}"
    check = next(c for c in range(10) if rrn_checksum_ok(body + str(c)))
    return f"{body[:6]}-{body[6:]}{check}"


PHONE_WRITINGS = (
    lambda a, b: f"010-{a}-{b}", lambda a, b: f"010{a}{b}", lambda a, b: f"+82 10-{a}-{b}",
    lambda a, b: f"010 {a} {b}", lambda a, b: f"+821{0}{a}{b}", lambda a, b: f"02-3{b[:2]}-{b}",
)
DIRTY = (("email", "not-an-email"), ("birth_date", "1985-13-45"), ("phone", "12"), ("customer_ref", ""))


def bench_rows(n: int, seed: int = 7, *, realistic: bool = False) -> list[list[str]]:
    """``n`` rows in HEADER order, about 70% Korean. ``realistic``: phone numbers in mixed writings (dashes, none,
    +82, spaces, Seoul landlines) and 1% dirty rows (bad email, impossible date, short phone, no customer_ref),
    the bad rows being every hundredth one (see :func:`dirty_lines`)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        year, month, day = rng.randint(1950, 1999), rng.randint(1, 12), rng.randint(1, 28)
        gender = rng.choice("FM")
        city, district = rng.choice(CITIES)
        if rng.random() < 0.7:
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        else:
            name = f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"
        rrn = _rrn(rng, year % 100, month, day, 1 if gender == "M" else 2) if rng.random() < 0.2 else ""
        rrn = ""  # drawn to keep the sequence; service_delivery does not collect RRNs (issue 12 §1: rejected rows)
        rows.append([
            f"B{seed}-{i:08d}", name, f"user{seed}x{i}@example.com",
            f"010-{2000 + i // 10000 % 8000:04d}-{i % 10000:04d}", f"{year}-{month:02d}-{day:02d}", gender,
            f"{rng.randint(1000, 63999):05d}", city, district,
            f"테헤란로 {rng.randint(1, 500)}, {rng.randint(101, 1504)}호",
            rrn, rng.choice("yn"), rng.choice("yn"), rng.choice("yn "), rng.choice("yn"),
        ])
        rows[-1][-2] = rows[-1][-2].strip()
        if realistic:
            a, b = f"{2000 + i // 10000 % 8000:04d}", f"{i % 10000:04d}"
            rows[-1][3] = PHONE_WRITINGS[i % len(PHONE_WRITINGS)](a, b)
            if i % 100 == 99:
                column, value = DIRTY[(i // 100) % len(DIRTY)]
                rows[-1][HEADER.index(column)] = value
    return rows


def dirty_count(n: int) -> int:
    """How many of ``bench_rows(n, realistic=True)`` are bad."""
    return n // 100


def write_bench_csv(path: Path, n: int, seed: int = 7, *, realistic: bool = False) -> list[list[str]]:
    """Write ``n`` rows to ``path``; returns them."""
    rows = bench_rows(n, seed, realistic=realistic)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)
    return rows
