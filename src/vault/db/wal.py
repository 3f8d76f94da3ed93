"""WAL checkpoints of a SQLite database on a background thread instead of inside commits.

By default the connection whose commit pushes the write-ahead log past 1,000 pages copies the log
back into the database file, inside that commit: every few dozen requests one of them paid for a
checkpoint while holding the write lock. The vault's own connections turn that off
(``PRAGMA wal_autocheckpoint=0``, :func:`no_autocheckpoint`) and one thread per process runs a
PASSIVE checkpoint every ``every`` seconds: it never waits for readers or writers, copies each page
once however many commits changed it, and releases the GIL while SQLite works. Other programs
opening the file (Alembic, sqlite3) keep SQLite's default.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

log = logging.getLogger(__name__)

#: Seconds between checkpoints.
EVERY_S = 1.0


def no_autocheckpoint(dbapi_conn: Any, _record: Any = None) -> None:
    """Leave checkpoints to :class:`WalCheckpoints` on this connection."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


class WalCheckpoints:
    """A daemon thread checkpointing one SQLite file's WAL (PASSIVE) every ``every`` seconds."""

    def __init__(self, path: str, *, uri: bool = False, every: float = EVERY_S) -> None:
        self._path = path
        self._uri = uri
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vault-wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while not self._stop.wait(self._every):
            try:
                if conn is None:
                    conn = sqlite3.connect(self._path, uri=self._uri, isolation_level=None, check_same_thread=False)
                    conn.execute("PRAGMA busy_timeout=0")
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:  # the file went away (tests) or is locked: try again next round
                log.debug("WAL checkpoint skipped: %s", type(exc).__name__)
        try:
            if conn is not None:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass
        finally:
            if conn is not None:
                conn.close()

    def close(self) -> None:
        """Stop the thread after one last checkpoint."""
        self._stop.set()
        self._thread.join(5)
