"""Blind indexes: keyed HMAC-SHA256 over normalized values, for exact lookup."""

from __future__ import annotations

import hashlib
import hmac


class BlindIndexer:
    """Computes blind-index digests with a key separate from every encryption key."""

    def __init__(self, key: bytes, version: int = 1) -> None:
        if len(key) < 32:
            raise ValueError("blind index key must be at least 32 bytes")
        self._key = key
        self.version = version

    def digest(self, field: str, normalized: str) -> bytes:
        """Digest of an already-normalized value; the field name is part of the MAC input."""
        return hmac.digest(self._key, field.encode() + b"\x00" + normalized.encode(), hashlib.sha256)
