"""Keyed pseudonyms for analytics: stable within a project, unlinkable across projects."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uuid import UUID


class Pseudonymizer:
    """Derives a per-project key from the pseudonym root key, then HMACs customer ids."""

    def __init__(self, root_key: bytes) -> None:
        if len(root_key) < 32:
            raise ValueError("pseudonym root key must be at least 32 bytes")
        self._root = root_key

    def project_key(self, project: str) -> bytes:
        """The key for one analysis project."""
        return hmac.digest(self._root, b"vault.pseudonym|" + project.encode(), hashlib.sha256)

    def pseudonym(self, project: str, customer_id: UUID) -> str:
        """A 26-character base32 pseudonym of ``customer_id`` within ``project``."""
        return self.for_project(project).of(customer_id)

    def for_project(self, project: str, key_version: int = 1) -> ProjectPseudonyms:
        """The pseudonym function of one project (its key derived once; picklable for worker processes).

        ``key_version`` > 1 derives a rotated project key: pseudonyms under it do not link to the old ones.
        """
        label = project if key_version == 1 else f"{project}|v{key_version}"
        return ProjectPseudonyms(self.project_key(label))


class ProjectPseudonyms:
    """HMAC-SHA256 of customer ids under one project key, truncated to 128 bits, base32."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __reduce__(self) -> tuple[type[ProjectPseudonyms], tuple[bytes]]:
        return (ProjectPseudonyms, (self._key,))

    def of(self, customer_id: UUID) -> str:
        """The pseudonym of one customer."""
        return self.of_bytes(customer_id.bytes)

    def of_bytes(self, raw_id: bytes) -> str:
        """The pseudonym of the customer whose 16-byte id is ``raw_id``."""
        mac = hmac.digest(self._key, raw_id, hashlib.sha256)
        return base64.b32encode(mac[:16]).decode().rstrip("=").lower()

    def many(self, packed_ids: bytes) -> list[str]:
        """Pseudonyms of ids packed 16 bytes each (batch path: one HMAC each, base32 vectorized).

        The HMAC's keyed state is set up once and copied per id (1.2 instead of 2 µs an id).
        """
        keyed = hmac.new(self._key, digestmod=hashlib.sha256).copy
        macs = bytearray()
        for i in range(0, len(packed_ids), 16):
            mac = keyed()
            mac.update(packed_ids[i:i + 16])
            macs += mac.digest()[:16]
        return b32_lower_128(bytes(macs))


@functools.cache
def _tables() -> tuple[Any, Any]:
    """The base32 alphabet and bit weights as numpy arrays (numpy is imported by the first batch, not at start)."""
    import numpy as np

    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz234567", dtype=np.uint8)
    return alphabet, np.array([16, 8, 4, 2, 1], dtype=np.uint8)


def b32_lower_128(packed: bytes) -> list[str]:
    """Lower-case, unpadded base32 (RFC 4648) of each 16-byte value in ``packed``: 26 characters each.

    128 bits are 25.6 base32 digits; the last digit takes the final 3 bits and two zero bits, exactly as
    :func:`base64.b32encode` pads (tested against it).
    """
    count = len(packed) // 16
    if not count:
        return []
    import numpy as np

    alphabet, weights = _tables()
    bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8).reshape(count, 16), axis=1)
    bits = np.concatenate([bits, np.zeros((count, 2), dtype=np.uint8)], axis=1).reshape(count, 26, 5)
    text = alphabet[bits @ weights].tobytes().decode("ascii")
    return [text[i:i + 26] for i in range(0, len(text), 26)]
