"""Aggregates over the audit log for the compliance console: chain head, denials, alerts, monthly activity.

Everything here reads ids, actions, outcomes, counts and times (the log holds no PII). Monthly activity is
aggregated while streaming the month's entries, so memory grows with principals x days, not with entries.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select

from vault.audit.models import AuditCheckpointRow, AuditEntryRow
from vault.lib.clock import as_utc

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

KST = timezone(timedelta(hours=9))
READ_ACTIONS = frozenset({
    "customer.read", "customer.lookup", "contacts.resolve", "subject.export", "note.read", "consent.history",
    "consent.read", "consent.receipt", "extract.create",
})
BULK_MIN_SUBJECTS = 100  # a read touching this many customers or more is a bulk read
NIGHT_HOURS_KST = frozenset({21, 22, 23, 0, 1, 2, 3, 4, 5, 6, 7})  # the inspection's default 21:00-08:00
SPIKE_FACTOR = 10  # reads this many times the principal's usual monthly volume are flagged
SPIKE_MIN_READS = 50  # ... once there are at least this many (no alarm over 1 -> 10 reads)
EMPTY_LOOKUPS_ALERT = 20  # lookups returning nothing, per principal per day: someone may be probing


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The newest entry and the newest signed checkpoint."""

    seq: int
    hash: str
    ts: datetime | None
    checkpoint_seq: int | None
    checkpoint_at: datetime | None
    checkpoint_key_id: str | None


@dataclass(frozen=True, slots=True)
class Alert:
    """Something a compliance officer should look at (ids and counts only)."""

    kind: str  # pii_key_issued | bulk_read | empty_lookups | other alert.* actions
    at: datetime
    principal_name: str | None
    detail: str
    seq: int | None = None


@dataclass
class PrincipalMonth:
    """One principal's activity in one month."""

    principal_id: uuid.UUID
    name: str
    role: str
    reads: int = 0
    denials: int = 0
    bulk_reads: int = 0
    off_hours_reads: int = 0
    restricted_touches: int = 0
    subjects_read: int = 0
    usual_reads: float | None = None  # mean monthly reads over the previous three months
    daily_reads: dict[int, int] = field(default_factory=dict)  # day of month -> reads
    daily_denials: dict[int, int] = field(default_factory=dict)
    hourly_reads: list[int] = field(default_factory=lambda: [0] * 24)  # KST hour -> reads
    actions: dict[str, int] = field(default_factory=dict)

    @property
    def flags(self) -> list[str]:
        """Anomaly codes: ``volume_spike``, ``night_reads``, ``restricted``, ``denials``."""
        out = []
        usual = self.usual_reads  # None: no reads in the three months before, so no baseline to compare
        if usual is not None and self.reads >= SPIKE_MIN_READS and self.reads >= SPIKE_FACTOR * usual:
            out.append("volume_spike")
        if self.off_hours_reads:
            out.append("night_reads")
        if self.restricted_touches:
            out.append("restricted")
        if self.denials >= 10:
            out.append("denials")
        return out


def off_hours(start: int, end: int) -> frozenset[int]:
    """KST hours from ``start`` (inclusive) to ``end`` (exclusive), wrapping midnight (the audit settings'
    ``off_hours_start``/``off_hours_end``, shared with the monthly inspection)."""
    if start > end:
        return frozenset(range(start, 24)) | frozenset(range(end))
    return frozenset(range(start, end))


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """UTC start and end of ``YYYY-MM`` in Korean time (the retailer's calendar month).

    Raises:
        ValueError: not a ``YYYY-MM`` month.
    """
    start_local = datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=KST)
    nxt = (start_local.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start_local.astimezone(UTC), nxt.astimezone(UTC)


def previous_months(month: str, n: int) -> list[str]:
    """The ``n`` months before ``month``, newest first."""
    y, m = int(month[:4]), int(month[5:7])
    out = []
    for _ in range(n):
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        out.append(f"{y:04d}-{m:02d}")
    return out


async def chain_head(session: AsyncSession) -> ChainHead | None:
    """The newest entry and checkpoint (None for an empty log)."""
    head = (await session.execute(
        select(AuditEntryRow.seq, AuditEntryRow.hash, AuditEntryRow.ts).order_by(AuditEntryRow.seq.desc()).limit(1)
    )).first()
    if head is None:
        return None
    cp = (await session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq.desc()).limit(1))).first()
    return ChainHead(head[0], head[1], as_utc(head[2]) if head[2] else None, cp.seq if cp else None,
                     as_utc(cp.created_at) if cp else None, cp.key_id if cp else None)


async def count_denials(session: AsyncSession, since: datetime) -> int:
    """Denied requests since ``since``."""
    q = select(func.count()).select_from(AuditEntryRow).where(
        AuditEntryRow.outcome == "denied", AuditEntryRow.ts >= since)
    return int((await session.execute(q)).scalar_one())


async def denials_by_action(session: AsyncSession, since: datetime) -> dict[str, int]:
    """Denied requests since ``since`` per action."""
    q = (select(AuditEntryRow.action, func.count()).where(AuditEntryRow.outcome == "denied", AuditEntryRow.ts >= since)
         .group_by(AuditEntryRow.action))
    return {a: int(n) for a, n in (await session.execute(q)).all()}


async def alerts(session: AsyncSession, since: datetime, *, limit: int = 50) -> list[Alert]:
    """Recent alerts: ``alert.*`` entries (e.g. PII-capable keys issued), bulk reads, bursts of empty lookups."""
    out: list[Alert] = []
    rows = (await session.execute(
        select(AuditEntryRow.seq, AuditEntryRow.ts, AuditEntryRow.action, AuditEntryRow.principal_name,
               AuditEntryRow.detail, AuditEntryRow.subject_count, AuditEntryRow.outcome)
        .where(AuditEntryRow.ts >= since, or_(
            AuditEntryRow.action.like("alert.%"),
            (AuditEntryRow.subject_count >= BULK_MIN_SUBJECTS) & AuditEntryRow.action.in_(READ_ACTIONS)
            & (AuditEntryRow.outcome == "allowed"),
        ))
        .order_by(AuditEntryRow.seq.desc()).limit(limit)
    )).all()
    for seq, ts, action, name, detail, count, _ in rows:
        if action.startswith("alert."):
            out.append(Alert(action.removeprefix("alert."), as_utc(ts), name, detail or "", seq))
        else:
            out.append(Alert("bulk_read", as_utc(ts), name, f"{action}: {count} customers", seq))
    empty = (await session.execute(
        select(AuditEntryRow.principal_name, func.count(), func.max(AuditEntryRow.ts))
        .where(AuditEntryRow.ts >= since, AuditEntryRow.action == "customer.lookup",
               AuditEntryRow.outcome == "allowed", AuditEntryRow.subject_count == 0)
        .group_by(AuditEntryRow.principal_name)
        .having(func.count() >= EMPTY_LOOKUPS_ALERT)
    )).all()
    for name, n, last in empty:
        out.append(Alert("empty_lookups", as_utc(last), name, f"{n} lookups found nobody"))
    return sorted(out, key=lambda a: a.at, reverse=True)[:limit]


async def _reads_per_principal(session: AsyncSession, start: datetime, end: datetime) -> dict[uuid.UUID, int]:
    q = (select(AuditEntryRow.principal_id, func.count())
         .where(AuditEntryRow.ts >= start, AuditEntryRow.ts < end, AuditEntryRow.outcome == "allowed",
                AuditEntryRow.action.in_(READ_ACTIONS), AuditEntryRow.principal_id.is_not(None))
         .group_by(AuditEntryRow.principal_id))
    return {pid: int(n) for pid, n in (await session.execute(q)).all() if pid is not None}


async def monthly_activity(session: AsyncSession, month: str, *, principal_id: uuid.UUID | None = None,
                           night_hours: frozenset[int] = NIGHT_HOURS_KST) -> list[PrincipalMonth]:
    """Every principal's (or one principal's) reads, denials, bulk and night reads in ``month`` (KST),
    with their usual volume over the three months before.

    Raises:
        ValueError: ``month`` is not ``YYYY-MM``.
    """
    start, end = month_bounds(month)
    q = (select(AuditEntryRow.principal_id, AuditEntryRow.principal_name, AuditEntryRow.role, AuditEntryRow.ts,
                AuditEntryRow.action, AuditEntryRow.outcome, AuditEntryRow.subject_count, AuditEntryRow.detail)
         .where(AuditEntryRow.ts >= start, AuditEntryRow.ts < end, AuditEntryRow.principal_id.is_not(None)))
    if principal_id is not None:
        q = q.where(AuditEntryRow.principal_id == principal_id)
    by: dict[uuid.UUID, PrincipalMonth] = {}
    result = await session.stream(q.execution_options(yield_per=5000))
    async for pid, name, role, ts, action, outcome, count, detail in result:
        if pid is None:
            continue
        pm = by.get(pid)
        if pm is None:
            pm = by[pid] = PrincipalMonth(pid, name or "?", role or "?")
        local = as_utc(ts).astimezone(KST)
        pm.actions[action] = pm.actions.get(action, 0) + 1
        if detail and "restricted" in detail:
            pm.restricted_touches += 1
        if outcome == "denied":
            pm.denials += 1
            pm.daily_denials[local.day] = pm.daily_denials.get(local.day, 0) + 1
            continue
        if outcome != "allowed" or action not in READ_ACTIONS:
            continue
        pm.reads += 1
        pm.subjects_read += max(int(count or 0), 1)
        pm.daily_reads[local.day] = pm.daily_reads.get(local.day, 0) + 1
        pm.hourly_reads[local.hour] += 1
        if (count or 0) >= BULK_MIN_SUBJECTS:
            pm.bulk_reads += 1
        if local.hour in night_hours:
            pm.off_hours_reads += 1
    history: dict[uuid.UUID, list[int]] = defaultdict(list)
    for prev in previous_months(month, 3):
        p_start, p_end = month_bounds(prev)
        reads = await _reads_per_principal(session, p_start, p_end)
        for pid in by:
            history[pid].append(reads.get(pid, 0))
    for pid, pm in by.items():
        past = history.get(pid, [])
        pm.usual_reads = sum(past) / len(past) if any(past) else None
    return sorted(by.values(), key=lambda p: (-len(p.flags), -p.reads, p.name))
