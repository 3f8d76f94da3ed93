"""Audit entries and their canonical, hash-chained encoding."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from vault.lib.clock import as_utc

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from uuid import UUID

GENESIS = "0" * 64


class Outcome(StrEnum):
    """What happened to the audited request."""

    ALLOWED = "allowed"
    DENIED = "denied"
    FAILED = "failed"
    ALERT = "alert"  # something a compliance officer should look at (actions named ``alert.<kind>``)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted: a principal (or the local CLI operator)."""

    principal_id: UUID | None
    name: str
    role: str
    key_prefix: str | None = None
    """The visible prefix of the API key the request was made with (None for logins and the CLI)."""
    key_issuer: str | None = None
    """Who issued that key: ``principal:<hex id>`` or ``operator:<name>``."""

    @classmethod
    def cli(cls, name: str = "cli") -> Actor:
        """The operator running the local CLI (has shell access to the key file)."""
        return cls(None, name, "operator")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One thing to audit. Never put PII in any field: ids, names of fields, counts only."""

    action: str
    outcome: Outcome
    actor: Actor
    purpose: str | None = None
    customer_id: UUID | None = None
    subjects: tuple[UUID, ...] = ()
    subject_count: int | None = None
    fields: tuple[str, ...] = ()
    request_id: str | None = None
    client_ip: str | None = None
    detail: str | None = None


def subjects_digest(customer_ids: Iterable[UUID]) -> str:
    """SHA-256 over the sorted customer ids of a bulk entry."""
    h = hashlib.sha256()
    for hex_id in sorted(c.hex for c in customer_ids):
        h.update(hex_id.encode() + b"\n")
    return h.hexdigest()


def canonical_ts(ts: datetime) -> str:
    """UTC timestamp with microseconds, as hashed."""
    return as_utc(ts).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


HASHED_COLUMNS = (
    "seq", "ts", "principal_id", "principal_name", "role", "action", "purpose", "outcome",
    "customer_id", "subject_count", "subjects_digest", "fields", "request_id", "client_ip", "detail",
)
# Columns added later: hashed only when set, so entries written before they existed keep their hashes.
OPTIONAL_HASHED_COLUMNS = ("key_prefix", "key_issuer")


def entry_hash(row: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 over the canonical JSON of ``row`` (the hashed columns) and ``prev_hash``."""
    doc: dict[str, Any] = {}
    for col in HASHED_COLUMNS:
        value = row.get(col)
        if isinstance(value, datetime):
            value = canonical_ts(value)
        elif isinstance(value, uuid.UUID):
            value = value.hex
        doc[col] = value
    for col in OPTIONAL_HASHED_COLUMNS:
        if row.get(col) is not None:
            doc[col] = row[col]
    doc["prev_hash"] = prev_hash
    payload = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()
