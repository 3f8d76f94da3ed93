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
