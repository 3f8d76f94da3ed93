"""The append-only, hash-chained audit log.

Appends are serialized so the chain stays linear across processes: on
PostgreSQL with a transaction-scoped advisory lock, on SQLite by the write
lock ``BEGIN IMMEDIATE`` takes. The chain head is read inside that transaction,
never from process memory. Reads are made durable through group commit: many
concurrent requests hand entries to one flush that chains and commits them in
one transaction, and each request waits for its batch.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, insert, select, text

from vault.audit.entry import GENESIS, AuditEvent, entry_hash, subjects_digest
from vault.audit.errors import AuditWriteError
from vault.audit.models import AuditEntryRow, AuditSubjectRow
from vault.audit.subjects import SubjectList
from vault.lib.clock import utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.db.engine import Database

# Arbitrary constant naming the audit chain's advisory lock on PostgreSQL.
AUDIT_LOCK_KEY = 0x5641554C54  # "VAULT"
# Bulk entries up to this many subjects ride along in group commit; larger ones commit on their own.
GROUP_SUBJECTS_MAX = 2000
_BULK_SUBJECT_CHUNK = 50_000
_SUBJECTS_TABLE = cast(Table, AuditSubjectRow.__table__)  # Core executemany, not the ORM bulk path


async def append(session: AsyncSession, events: Sequence[AuditEvent]) -> list[int]:
    """Chain and insert ``events`` inside the caller's write transaction; returns their seqs."""
    if not events:
        return []
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
    head = (
        await session.execute(select(AuditEntryRow.seq, AuditEntryRow.hash).order_by(AuditEntryRow.seq.desc()).limit(1))
    ).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS)
    rows: list[dict[str, Any]] = []
    subject_rows: list[dict[str, Any]] = []
    now = utcnow()
    for event in events:
        seq += 1
        subjects = tuple(dict.fromkeys(event.subjects))
        count = event.subject_count if event.subject_count is not None else (
            len(subjects) if subjects else (1 if event.customer_id else 0))
        row = _entry_row(event, seq, now, count, subjects_digest(subjects) if subjects else None, prev)
        prev = row["hash"]
        rows.append(row)
        subject_rows.extend({"seq": seq, "customer_id": c} for c in subjects)
    await session.execute(insert(AuditEntryRow), rows)
    if subject_rows:
        await session.execute(insert(AuditSubjectRow), subject_rows)
    return [r["seq"] for r in rows]


def _entry_row(event: AuditEvent, seq: int, now: datetime, count: int, digest: str | None,
               prev: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "seq": seq,
        "ts": now,
        "principal_id": event.actor.principal_id,
        "principal_name": event.actor.name,
        "role": event.actor.role,
        "action": event.action,
        "purpose": event.purpose,
        "outcome": str(event.outcome),
        "customer_id": event.customer_id,
        "subject_count": count,
        "subjects_digest": digest,
        "fields": ",".join(event.fields) if event.fields else None,
        "request_id": event.request_id,
        "client_ip": event.client_ip,
        "detail": event.detail,
        "key_prefix": event.actor.key_prefix,
        "key_issuer": event.actor.key_issuer,
    }
    row["prev_hash"] = prev
    row["hash"] = entry_hash(row, prev)
    return row


async def append_bulk(session: AsyncSession, event: AuditEvent, subjects: SubjectList) -> int:
    """Chain one bulk entry whose subjects are a packed :class:`SubjectList` (any size); returns its seq.

    The subject rows are inserted in chunks, so memory stays at 16 bytes per id.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
    head = (
        await session.execute(select(AuditEntryRow.seq, AuditEntryRow.hash).order_by(AuditEntryRow.seq.desc()).limit(1))
    ).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    row = _entry_row(event, seq, utcnow(), len(subjects), subjects.digest() if len(subjects) else None, prev)
    await session.execute(insert(AuditEntryRow), [row])
    await _insert_subjects(session, seq, subjects)
    return seq


async def _insert_subjects(session: AsyncSession, seq: int, subjects: SubjectList) -> None:
    """Insert the subject rows without per-row statement work (an extract may cover a million customers):
    one driver-level executemany of hex ids per chunk on SQLite, INSERT ... SELECT unnest(uuid[]) on PostgreSQL."""
    conn = await session.connection()
    packed = subjects.packed()
    step = _BULK_SUBJECT_CHUNK * 16
    for start in range(0, len(packed), step):
        text_ids = packed[start:start + step].hex()
        hex_ids = [text_ids[i:i + 32] for i in range(0, len(text_ids), 32)]
        if conn.dialect.name == "sqlite":  # ids are stored as 32 hex digits
            await conn.exec_driver_sql("INSERT INTO audit_subjects (seq, customer_id) VALUES (?, ?)",
                                       [(seq, h) for h in hex_ids])
        elif conn.dialect.name == "postgresql":
            await conn.execute(text("INSERT INTO audit_subjects (seq, customer_id) "
                                    "SELECT :seq, unnest(CAST(:ids AS uuid[]))"),
                               {"seq": seq, "ids": [uuid.UUID(h) for h in hex_ids]})
        else:
            await session.execute(insert(_SUBJECTS_TABLE), [{"seq": seq, "customer_id": uuid.UUID(h)}
                                                            for h in hex_ids])


class AuditLog:
    """Records audit events; the one way any package writes to the log."""

    def __init__(self, db: Database, *, max_batch: int = 512) -> None:
        self._db = db
        self._max_batch = max_batch
        self._pending: list[tuple[AuditEvent, asyncio.Future[int]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, session: AsyncSession, event: AuditEvent) -> int:
        """Append ``event`` in the caller's write transaction (commits with the change)."""
        return (await append(session, [event]))[0]

    async def record_many(self, session: AsyncSession, events: Sequence[AuditEvent]) -> list[int]:
        """Append several events in the caller's write transaction."""
        return await append(session, events)

    async def record_durable(self, event: AuditEvent) -> int:
        """Append ``event`` in its own committed transaction via group commit; returns its seq.

        Returns only once the entry is committed, so the caller may then release data.

        Raises:
            AuditWriteError: if the batch could not be committed.
        """
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop(), name=f"audit-flush-{uuid.uuid4().hex[:6]}")
        if self._db.holds_write_lock():
            # This task holds the process's SQLite write lock (a denial inside a write request): the flusher
            # needs that lock, so waiting here would deadlock. The entry commits as soon as the request's
            # transaction ends; no data leaves with a denial.
            return -1
        return await future

    async def record_bulk_durable(self, event: AuditEvent, subjects: SubjectList) -> int:
        """Durably append one bulk entry covering ``subjects`` (any number) before data leaves; returns its seq.

        Small lists go through group commit; large ones commit in their own write transaction
        (chained under the same lock), so a million subjects never delay other requests' entries
        nor sit in memory as objects.

        Raises:
            AuditWriteError: if the entry could not be committed.
        """
        if len(subjects) <= GROUP_SUBJECTS_MAX:
            return await self.record_durable(replace(event, subjects=tuple(subjects), subject_count=len(subjects)))
        try:
            async with self._db.audit_write() as session:
                return await append_bulk(session, event, subjects)
        except Exception as exc:
            raise AuditWriteError("audit entry could not be committed") from exc

    async def _flush_loop(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                async with self._db.audit_write() as session:
                    seqs = await append(session, [event for event, _ in batch])
            except Exception as exc:  # every waiter must learn that its entry is not durable
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(AuditWriteError("audit entry could not be committed"))
                del exc
                continue
            for (_, fut), seq in zip(batch, seqs, strict=True):
                if not fut.done():
                    fut.set_result(seq)

    async def drain(self) -> None:
        """Wait for pending entries (on shutdown)."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
