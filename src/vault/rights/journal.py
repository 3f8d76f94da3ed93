"""The erasure journal: an append-only JSON-lines file kept apart from the database.

A backup restored after an erasure brings the erased customer back; the journal is how
the vault forgets them again (``vault rights replay-erasures``). It holds only what is
needed to find the record (customer id, customer_ref blind-index digest in hex), when and
why (timestamp, request id, action) and never personal data, so it may be kept as long
as backups are. Each append is one ``write`` under an exclusive ``flock`` followed by
``fsync``: the entry is on disk before the database change commits.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from vault.lib.clock import as_utc
from vault.rights.errors import JournalError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

FORMAT = 1
ACTIONS = ("erase", "pseudonymize")


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One erased (or pseudonymized) customer."""

    customer_id: uuid.UUID
    ref_digest: bytes | None
    erased_at: datetime
    request_id: str | None
    action: str = "erase"

    def to_json(self) -> str:
        """One line (no PII: ids, a digest, a time, a request id)."""
        return json.dumps({
            "v": FORMAT, "action": self.action, "customer_id": str(self.customer_id),
            "ref_digest": self.ref_digest.hex() if self.ref_digest else None,
            "erased_at": as_utc(self.erased_at).isoformat(), "request_id": self.request_id,
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> JournalEntry:
        """Parse one line.

        Raises:
            ValueError: not a journal entry.
        """
        doc = json.loads(line)
        if not isinstance(doc, dict) or doc.get("v") != FORMAT or doc.get("action") not in ACTIONS:
            raise ValueError("not an erasure journal entry")
        ref = doc.get("ref_digest")
        return cls(uuid.UUID(doc["customer_id"]), bytes.fromhex(ref) if ref else None,
                   as_utc(datetime.fromisoformat(doc["erased_at"])), doc.get("request_id"), doc["action"])


class ErasureJournal:
    """Appends to and reads the journal file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entries: Sequence[JournalEntry]) -> None:
        """Durably append ``entries`` (one write, one fsync).

        Raises:
            JournalError: the file cannot be written (then nothing may be erased).
        """
        if not entries:
            return
        data = "".join(e.to_json() + "\n" for e in entries).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)  # closing releases the lock
        except OSError as exc:
            raise JournalError(f"erasure journal {self.path} cannot be written ({exc.strerror}); nothing erased") \
                from exc

    def entries(self) -> Iterator[JournalEntry]:
        """Every entry, oldest first (a torn last line from a crash is skipped).

        Raises:
            JournalError: the file cannot be read, or a line other than the last is corrupt.
        """
        try:
            with self.path.open(encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise JournalError(f"erasure journal {self.path} cannot be read ({exc.strerror})") from exc
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield JournalEntry.from_json(line)
            except (ValueError, KeyError, TypeError) as exc:
                if n == len(lines):
                    return
                raise JournalError(f"erasure journal {self.path} line {n} is corrupt") from exc
