"""Chaining audit entries: sequence numbers, the previous hash, each entry's hash. No I/O.

Shared by the in-transaction append (:func:`vault.audit.log.append`) and the durable
group-commit writer (:mod:`vault.audit.writer`), so both produce byte-identical chains.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vault.audit.entry import GENESIS, entry_hash, subjects_digest

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from vault.audit.entry import AuditEvent

# Arbitrary constant naming the audit chain's advisory lock on PostgreSQL.
AUDIT_LOCK_KEY = 0x5641554C54  # "VAULT"


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
