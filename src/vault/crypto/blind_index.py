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
        self._base = hmac.new(key, digestmod=hashlib.sha256)  # keyed state, copied per digest (saves the key setup)
        self.version = version

    def __reduce__(self) -> tuple[type[BlindIndexer], tuple[bytes, int]]:
        # Picklable for the bulk importer's local sealing worker processes (never written anywhere).
        return (BlindIndexer, (self._key, self.version))

    def digest(self, field: str, normalized: str) -> bytes:
        """Digest of an already-normalized value; the field name is part of the MAC input."""
        mac = self._base.copy()
        mac.update(field.encode() + b"\x00" + normalized.encode())
        return mac.digest()
