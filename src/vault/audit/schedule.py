"""Signed checkpoints on a schedule, exported to files outside the database.

A checkpoint kept only inside the database proves nothing to someone who can rewrite the
database: a truncated log with its checkpoints truncated too still verifies. ``vault serve``
therefore signs the chain head every ``every_seconds`` or every ``every_entries`` new
entries, whichever comes first, and writes it to ``directory`` (keep that on other storage,
or ship it off the machine); ``vault audit verify --checkpoint FILE`` then detects any
truncation or rewrite before that point.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from vault.audit.models import AuditEntryRow
from vault.audit.verify import LATEST_CHECKPOINT, create_checkpoint, export_checkpoint

if TYPE_CHECKING:
    from pathlib import Path

    from vault.crypto.signing import Signer
    from vault.db.engine import Database

log = logging.getLogger("vault.audit")
LATEST = LATEST_CHECKPOINT


class CheckpointSchedule:
    """Exports a signed checkpoint when enough time or entries have passed since the last one."""

    def __init__(self, db: Database, signer: Signer, directory: Path, *, every_seconds: float = 300.0,
                 every_entries: int = 10_000) -> None:
        self._db = db
        self._signer = signer
        self._dir = directory
        self._every_seconds = every_seconds
        self._every_entries = every_entries
        self._last_seq = 0
        self._last_time = float("-inf")  # the first tick exports the head as found at start

    async def tick(self, *, force: bool = False) -> Path | None:
        """Export a checkpoint if one is due (or ``force``); returns the file written, if any."""
        async with self._db.read() as session:
            head = int(await session.scalar(select(func.max(AuditEntryRow.seq))) or 0)
        if head <= self._last_seq:
            return None
        due = (force or head - self._last_seq >= self._every_entries
               or time.monotonic() - self._last_time >= self._every_seconds)
        if not due:
            return None
        async with self._db.write() as session:
            row = await create_checkpoint(session, self._signer)
        if row is None:
            return None
        path = self._dir / f"checkpoint-{row.seq:012d}.json"
        export_checkpoint(row, self._signer.public_pem(), path)
        export_checkpoint(row, self._signer.public_pem(), self._dir / LATEST)
        self._last_seq, self._last_time = row.seq, time.monotonic()
        return path

    async def run(self, poll: float = 10.0) -> None:
        """Tick every ``poll`` seconds until cancelled; a failed tick is logged and retried."""
        while True:
            await asyncio.sleep(poll)
            try:
                await self.tick()
            except Exception as exc:  # keep serving; the next tick tries again
                log.warning("audit checkpoint export failed: %s", type(exc).__name__)
