"""Identifiers: time-ordered UUIDs (version 7 layout) for primary keys.

Random v4 keys scatter inserts over the whole primary-key B-tree; v7 keys
(48-bit millisecond timestamp, then randomness) append near the end, which
keeps bulk imports and their indexes fast on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> uuid.UUID:
    """A new UUIDv7: unique, roughly time-ordered, 74 random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | (0x7 << 76) | ((rand >> 62) & 0xFFF) << 64 | (0b10 << 62) | (
        rand & ((1 << 62) - 1))
    return uuid.UUID(int=value)


def new_ids_hex(n: int) -> list[str]:
    """``n`` new UUIDv7s as 32 hex digits (bulk import): one clock read and one ``os.urandom`` call."""
    ms = (time.time_ns() // 1_000_000) & ((1 << 48) - 1)
    pool = os.urandom(10 * n)
    base = ms << 80 | (0x7 << 76) | (0b10 << 62)
    out = []
    for i in range(n):
        rand = int.from_bytes(pool[i * 10:(i + 1) * 10], "big")
        out.append(f"{base | ((rand >> 62) & 0xFFF) << 64 | (rand & ((1 << 62) - 1)):032x}")
    return out
