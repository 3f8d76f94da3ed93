"""Synthetic behaviour data for the demo: transactions and interactions with realistic shapes.

Customers get a profile (loyal, regular, occasional, lapsed, one-off, never bought); purchase days
follow the profile's rhythm over the two years before ``today``, amounts are log-normal per
category, about 7% of purchases are returned, and service interactions carry satisfaction scores
(complaints more often after returns). Deterministic for a given seed and date.
"""

from __future__ import annotations

import csv
import math
import random
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from vault.segments.behaviour import INTERACTION_HEADER, KST, TRANSACTION_HEADER

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

CATEGORIES = {"fashion": 65_000, "beauty": 38_000, "food": 24_000, "electronics": 240_000, "home": 55_000,
              "sports": 70_000}
CHANNELS = ("web", "app", "store")
#: profile -> (share of customers, mean days between purchases, days since the last purchase (max))
PROFILES = {
    "loyal": (0.12, 12, 20),
    "regular": (0.25, 35, 60),
    "occasional": (0.25, 90, 150),
    "lapsed": (0.15, 40, 540),
    "one_off": (0.11, 0, 600),
    "none": (0.12, 0, 0),
}


def _profile(rng: random.Random) -> str:
    x = rng.random()
    for name, (share, _, _) in PROFILES.items():
        if x < share:
            return name
        x -= share
    return "none"


def _instant(rng: random.Random, day: date) -> str:
    at = datetime(day.year, day.month, day.day, rng.randint(8, 22), rng.randint(0, 59), rng.randint(0, 59),
                  tzinfo=KST)
    return at.isoformat()


def write_behaviour_csvs(refs: Sequence[str], today: date, transactions: Path, interactions: Path,
                         seed: int = 20261125) -> tuple[int, int]:
    """Write demo transactions and interactions for ``refs``; returns the row counts."""
    rng = random.Random(seed)
    n_tx = n_ix = 0
    with transactions.open("w", newline="", encoding="utf-8") as ft, \
            interactions.open("w", newline="", encoding="utf-8") as fi:
        tw, iw = csv.writer(ft), csv.writer(fi)
        tw.writerow(TRANSACTION_HEADER)
        iw.writerow(INTERACTION_HEADER)
        for ref in refs:
            profile = _profile(rng)
            _, gap, silent = PROFILES[profile]
            if profile == "none":
                continue
            favourite = rng.choice(list(CATEGORIES))
            last = today - timedelta(days=rng.randint(0, silent) if profile != "lapsed" else rng.randint(200, silent))
            days = [last]
            if gap:
                day = last
                start = today - timedelta(days=730)
                while True:
                    day -= timedelta(days=max(1, int(rng.expovariate(1 / gap))))
                    if day < start:
                        break
                    days.append(day)
            returns = 0
            for day in days:
                category = favourite if rng.random() < 0.6 else rng.choice(list(CATEGORIES))
                amount = int(math.exp(rng.gauss(math.log(CATEGORIES[category]), 0.5)) // 100 * 100)
                returned = rng.random() < (0.25 if ref.endswith("7") else 0.06)
                returns += returned
                tw.writerow([ref, _instant(rng, day), max(amount, 1000), rng.choice(CHANNELS), category,
                             "y" if returned else "n"])
                n_tx += 1
            contacts = rng.randint(0, 2) + returns
            for _ in range(contacts):
                day = today - timedelta(days=rng.randint(0, 360))
                kind = rng.choice(("ticket", "inquiry", "survey", "complaint" if returns else "survey", "return"
                                   if returns else "inquiry"))
                score = rng.choice((1, 2, 3)) if kind == "complaint" else rng.choice((3, 4, 4, 5, 5))
                iw.writerow([ref, _instant(rng, day), rng.choice(("crm", "after_sales", "sales")), kind,
                             score if kind in ("survey", "complaint", "ticket") else ""])
                n_ix += 1
    return n_tx, n_ix
