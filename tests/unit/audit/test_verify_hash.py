"""verify_chain's raw-row hashing produces exactly entry_hash's bytes (the chain the log writes)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from vault.audit.entry import GENESIS, HASHED_COLUMNS, OPTIONAL_HASHED_COLUMNS, entry_hash, subjects_digest
from vault.audit.verify import _digest, _raw_hash

PID, CID = uuid.UUID("0b7f6c1e-55aa-4c1b-9d5e-000000000001"), uuid.UUID("8c4e2a10-1234-4abc-8def-00000000abcd")


def _row(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "seq": 7, "ts": datetime(2026, 3, 1, 12, 30, 5, 120, tzinfo=UTC), "principal_id": PID,
        "principal_name": "한국 \"svc\"\\ \u2028", "role": "support", "action": "customer.read",
        "purpose": "service_delivery", "outcome": "allowed", "customer_id": CID, "subject_count": 1,
        "subjects_digest": None, "fields": "name,phone", "request_id": "r-1", "client_ip": "10.0.0.1",
        "detail": "tab\there\nnew", "key_prefix": None, "key_issuer": None,
    }
    row.update(over)
    return row


def _sqlite_raw(row: dict[str, object]) -> tuple[object, ...]:
    """The row as SQLite's driver returns it (ts as text, UUIDs as 32-character hex)."""
    def raw(col: str) -> object:
        v = row[col]
        if isinstance(v, datetime):
            return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return v.hex if isinstance(v, uuid.UUID) else v
    return tuple(raw(c) for c in (*HASHED_COLUMNS, *OPTIONAL_HASHED_COLUMNS))


@pytest.mark.parametrize("over", [
    {},
    {"principal_id": None, "customer_id": None, "purpose": None, "detail": None},
    {"key_prefix": "vk_ab12", "key_issuer": "operator:cli"},
    {"ts": datetime(2026, 3, 1, 21, 30, 5, tzinfo=timezone(timedelta(hours=9)))},
    {"subjects_digest": "ab" * 32, "subject_count": 3},
])
def test_raw_hash_matches_entry_hash(over: dict[str, object]) -> None:
    row = _row(**over)
    want = entry_hash(row, GENESIS)
    assert _raw_hash(_sqlite_raw(row), GENESIS) == want
    typed = tuple(row[c] for c in (*HASHED_COLUMNS, *OPTIONAL_HASHED_COLUMNS))  # as PostgreSQL's driver returns it
    assert _raw_hash(typed, GENESIS) == want


def test_raw_hash_detects_a_changed_field() -> None:
    row = _row()
    want = entry_hash(row, GENESIS)
    assert _raw_hash(_sqlite_raw(_row(fields="name,phone,email")), GENESIS) != want
    assert _raw_hash(_sqlite_raw(row), "1" * 64) != want


def test_digest_matches_subjects_digest() -> None:
    ids = [uuid.uuid4() for _ in range(5)]
    assert _digest([i.hex for i in ids]) == _digest(ids) == subjects_digest(ids)
