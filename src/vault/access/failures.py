"""Failed authentications: counted per source and minute, audited as one entry per (source, minute).

An unauthenticated client must not be able to write a permanent audit row per request (a
single client could add gigabytes a day to the append-only log). Failures are counted in
memory per client address and minute; :meth:`AuthFailures.flush` turns every finished
minute into one ``auth.failed`` entry with its count. A source that fails too often is
refused before its key is even looked up, until its window passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from vault.audit.entry import Actor, AuditEvent, Outcome
from vault.lib.ratelimit import SlidingWindow

if TYPE_CHECKING:
    from vault.audit.log import AuditLog

ANONYMOUS = Actor(None, "anonymous", "unknown")
MAX_SOURCES = 10_000  # distinct (source, minute) buckets held before the oldest are flushed early


@dataclass
class _Bucket:
    count: int = 0
    reasons: set[str] | None = None


class AuthFailures:
    """Per-source failed-authentication counter, limiter and aggregated audit."""

    def __init__(self, *, per_minute: int = 30, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._limit = SlidingWindow(per_minute, 60.0, clock=clock)
        self._buckets: dict[tuple[str, int], _Bucket] = {}

    def blocked(self, source: str | None) -> int:
        """Seconds until ``source`` may try again (0: it may)."""
        key = source or "unknown"
        if self._limit.count(key) >= self._limit.limit:
            return max(1, int(60 - (self._clock() % 60)))
        return 0

    def record(self, source: str | None, reason: str) -> None:
        """Count one failure from ``source`` (no audit write here: see :meth:`flush`)."""
        key = source or "unknown"
        self._limit.hit(key)
        bucket = self._buckets.setdefault((key, int(self._clock() // 60)), _Bucket(reasons=set()))
        bucket.count += 1
        if bucket.reasons is not None and len(bucket.reasons) < 4:
            bucket.reasons.add(reason)

    def due(self) -> bool:
        """Whether a finished minute (or too many buckets) waits to be written."""
        now = int(self._clock() // 60)
        return len(self._buckets) > MAX_SOURCES or any(minute < now for _, minute in self._buckets)

    async def flush(self, audit: AuditLog, *, everything: bool = False) -> int:
        """Write one ``auth.failed`` entry per finished (source, minute); returns how many were written."""
        now = int(self._clock() // 60)
        done = sorted(k for k in self._buckets if everything or k[1] < now or len(self._buckets) > MAX_SOURCES)
        for key in done:
            bucket = self._buckets.pop(key)
            source, minute = key
            start = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%MZ")
            reasons = "; ".join(sorted(bucket.reasons or ()))
            await audit.record_durable(AuditEvent(
                "auth.failed", Outcome.DENIED, ANONYMOUS, client_ip=source if source != "unknown" else None,
                subject_count=0, detail=f"{bucket.count} failed authentications in the minute from {start}: {reasons}"))
        return len(done)
