"""Chaining audit entries: sequence numbers, the previous hash, each entry's hash. No I/O.

Shared by the in-transaction append (:func:`vault.audit.log.append`) and the durable
group-commit writer (:mod:`vault.audit.writer`), so both produce byte-identical chains.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vault.audit import render
from vault.audit.entry import GENESIS, entry_hash, subjects_digest

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from vault.audit.entry import AuditEvent

# Arbitrary constant naming the audit chain's advisory lock on PostgreSQL.
AUDIT_LOCK_KEY = 0x5641554C54  # "VAULT"
#: The chain head, read inside the appending transaction (raw SQL for the driver-level writers).
HEAD_SQL = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"


def chain_rows(events: Sequence[AuditEvent], seq: int, prev: str | None, now: datetime,
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Entry rows and subject rows for ``events`` following the head ``(seq, prev)``."""
    prev_hash = prev if prev is not None else GENESIS
    rows: list[dict[str, Any]] = []
    subject_rows: list[dict[str, Any]] = []
    for event in events:
        seq += 1
        subjects = tuple(dict.fromkeys(event.subjects))
        count = event.subject_count if event.subject_count is not None else (
            len(subjects) if subjects else (1 if event.customer_id else 0))
        row = entry_row(event, seq, now, count, subjects_digest(subjects) if subjects else None, prev_hash)
        prev_hash = row["hash"]
        rows.append(row)
        subject_rows.extend({"seq": seq, "customer_id": c} for c in subjects)
    return rows, subject_rows


def entry_row(event: AuditEvent, seq: int, now: datetime, count: int, digest: str | None,
              prev: str) -> dict[str, Any]:
    """One chained entry row (its ``hash`` covers every column and ``prev``)."""
    row: dict[str, Any] = {
        "seq": seq,
        "ts": now,
        # Only catalogue tokens or bounded, escaped renderings reach the columns (vault.audit.render): no
        # client value can overflow a column (failing a whole batch) or put megabytes in the log.
        "principal_id": event.actor.principal_id,
        "principal_name": render.text(event.actor.name, render.NAME_MAX),
        "role": render.token(event.actor.role, render.ROLE_MAX),
        "action": render.token(event.action),
        "purpose": render.token(event.purpose),
        "outcome": str(event.outcome),
        "customer_id": event.customer_id,
        "subject_count": count,
        "subjects_digest": digest,
        "fields": render.text(",".join(render.token(f) or "" for f in event.fields), render.FIELDS_MAX)
        if event.fields else None,
        "request_id": render.token(event.request_id, render.ID_MAX),
        "client_ip": render.text(event.client_ip, render.ID_MAX),
        "detail": render.text(event.detail),
        "key_prefix": render.token(event.actor.key_prefix, 32),
        "key_issuer": render.text(event.actor.key_issuer, 140),
    }
    row["prev_hash"] = prev
    row["hash"] = entry_hash(row, prev)
    return row
