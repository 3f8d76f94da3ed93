"""Consent figures for the compliance console: how often customers say yes, per purpose and month."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import select

from vault.consent.models import ConsentEventRow
from vault.lib.clock import as_utc

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

KST = timezone(timedelta(hours=9))
YES = frozenset({"granted", "reconfirmed"})
NO = frozenset({"refused", "withdrawn"})


@dataclass(frozen=True, slots=True)
class ConsentRates:
    """Per purpose, per month (KST): share of decisions that were a yes, and how many decisions there were."""

    months: list[str]
    rates: dict[str, list[float | None]]  # purpose -> percent granted per month (None: no decisions)
    decisions: dict[str, list[int]]


def last_months(now: datetime, n: int) -> list[str]:
    """The ``n`` calendar months (KST) ending with the one containing ``now``, oldest first."""
    local = as_utc(now).astimezone(KST)
    y, m = local.year, local.month
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


async def monthly_rates(session: AsyncSession, now: datetime, *, months: int = 12) -> ConsentRates:
    """Grant share of the decisions (grant, reconfirm vs refuse, withdraw) recorded each month, per purpose.

    Expiries are not decisions and are left out. Streams the window's events (ids and kinds only).
    """
    labels = last_months(now, months)
    first = datetime.strptime(labels[0] + "-01", "%Y-%m-%d").replace(tzinfo=KST).astimezone(UTC)
    yes: dict[tuple[str, str], int] = defaultdict(int)
    total: dict[tuple[str, str], int] = defaultdict(int)
    purposes: set[str] = set()
    q = (select(ConsentEventRow.purpose, ConsentEventRow.kind, ConsentEventRow.occurred_at)
         .where(ConsentEventRow.occurred_at >= first, ConsentEventRow.kind.in_(YES | NO)))
    result = await session.stream(q.execution_options(yield_per=10_000))
    async for purpose, kind, at in result:
        month = as_utc(at).astimezone(KST).strftime("%Y-%m")
        purposes.add(purpose)
        total[purpose, month] += 1
        if kind in YES:
            yes[purpose, month] += 1
    rates = {p: [round(100 * yes[p, m] / total[p, m], 1) if total[p, m] else None for m in labels]
             for p in sorted(purposes)}
    counts = {p: [total[p, m] for m in labels] for p in sorted(purposes)}
    return ConsentRates(labels, rates, counts)
