"""A compact, sorted list of the customer ids one bulk audit entry covers.

Contact resolution may touch a million customers in one call. Holding their ids as
``uuid.UUID`` objects costs ~100 bytes each; packed here they cost 16, and the
subject digest is computed as the ids arrive (in ascending order, as keyset
pagination yields them), so no sorted copy is ever made.
"""

from __future__ import annotations

import hashlib
import uuid
from bisect import bisect_left
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


class SubjectList:
    """Customer ids packed 16 bytes each, appended in strictly ascending order."""

    __slots__ = ("_buf", "_hash", "_last")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._hash = hashlib.sha256()
        self._last = b""

    def append(self, customer_id: uuid.UUID) -> None:
        """Add an id greater than every id added before.

        Raises:
            ValueError: out of order (the digest would not match :func:`subjects_digest`).
        """
        raw = customer_id.bytes
        if raw <= self._last:
            raise ValueError("subject ids must be appended in strictly ascending order")
        self._last = raw
        self._buf += raw
        # Same bytes as vault.audit.entry.subjects_digest: sorted hex ids, one per line.
        self._hash.update(customer_id.hex.encode() + b"\n")

    def extend_packed(self, packed: bytes) -> None:
        """Add ids packed 16 bytes each, ascending and all greater than every id added before.

        Checked and hashed without a Python step per id (an extract hands over a million at once).

        Raises:
            ValueError: not 16-byte aligned, or out of order.
        """
        if len(packed) % 16:
            raise ValueError("packed subject ids must be 16 bytes each")
        if not packed:
            return
        if not _ascending(self._last + packed):
            raise ValueError("subject ids must be appended in strictly ascending order")
        self._last = packed[-16:]
        self._buf += packed
        # Same bytes as vault.audit.entry.subjects_digest: sorted hex ids, one per line.
        self._hash.update(packed.hex("\n", -16).encode() + b"\n")

    def __len__(self) -> int:
        return len(self._buf) // 16

    def __iter__(self) -> Iterator[uuid.UUID]:
        buf = bytes(self._buf)
        for i in range(0, len(buf), 16):
            yield uuid.UUID(bytes=buf[i:i + 16])

    def __contains__(self, customer_id: object) -> bool:
        if not isinstance(customer_id, uuid.UUID):
            return False
        return self.position(customer_id) is not None

    def position(self, customer_id: uuid.UUID, lo: int = 0) -> int | None:
        """Index of ``customer_id`` (searching from ``lo``), or None."""
        view = _Keys(self._buf)
        i = bisect_left(view, customer_id.bytes, lo)
        return i if i < len(view) and view[i] == customer_id.bytes else None

    def chunks(self, size: int) -> Iterator[list[uuid.UUID]]:
        """The ids in lists of at most ``size``."""
        step = size * 16
        for start in range(0, len(self._buf), step):
            part = bytes(self._buf[start:start + step])
            yield [uuid.UUID(bytes=part[i:i + 16]) for i in range(0, len(part), 16)]

    def packed(self) -> bytes:
        """The ids as one bytes object, 16 bytes each, ascending (for merge-walks)."""
        return bytes(self._buf)

    @property
    def last(self) -> uuid.UUID | None:
        """The greatest id, if any."""
        return uuid.UUID(bytes=self._last) if self._last else None

    def digest(self) -> str:
        """SHA-256 over the sorted hex ids (equals ``subjects_digest(self)``)."""
        return self._hash.copy().hexdigest()


class _Keys:
    """A sequence view of 16-byte keys for :func:`bisect.bisect_left`."""

    __slots__ = ("_buf",)

    def __init__(self, buf: bytearray) -> None:
        self._buf = buf

    def __len__(self) -> int:
        return len(self._buf) // 16

    def __getitem__(self, i: int) -> bytes:
        return bytes(self._buf[i * 16:(i + 1) * 16])


def _ascending(packed: bytes) -> bool:
    """Whether the 16-byte keys in ``packed`` are strictly ascending (compared as two big-endian 64-bit halves)."""
    if len(packed) <= 16:
        return True
    import numpy as np  # imported by the first bulk list, not at start

    halves = np.frombuffer(packed, dtype=">u8").reshape(-1, 2)
    hi, lo = halves[:, 0], halves[:, 1]
    return bool(np.all((hi[1:] > hi[:-1]) | ((hi[1:] == hi[:-1]) & (lo[1:] > lo[:-1]))))
