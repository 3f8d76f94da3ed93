"""Database backup and restore: SQLite through its online backup API, PostgreSQL through
pg_dump / pg_restore (custom format). Keys are *not* in a database backup (only wrapped
system keys are): back up the key file or HSM separately (docs/operations.md).

After a restore, run ``vault rights replay-erasures``: the backup may predate erasures.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from vault.errors import ConfigurationError
from vault.lib.files import open_private

if TYPE_CHECKING:
    from pathlib import Path


class BackupError(ConfigurationError):
    """A backup or restore failed (tool missing, database unreachable, bad file)."""

    code = "db.backup"
    title = "Backup or restore failed"


def _sqlite_path(url: str) -> str:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return database


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for ``url`` (the password goes to PGPASSWORD, not the command line)."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    host = u.host or "localhost"
    auth = f"{u.username}@" if u.username else ""
    port = f":{u.port}" if u.port else ""
    return f"postgresql://{auth}{host}{port}/{u.database}", env


def _run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    if shutil.which(cmd[0]) is None:
        raise BackupError(f"{cmd[0]} not found on PATH (install the PostgreSQL client tools)")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if proc.returncode != 0:
        raise BackupError(f"{cmd[0]} failed with exit code {proc.returncode}: {proc.stderr.strip()[-500:]}")


def backup(url: str, dest: Path) -> None:
    """Write a consistent copy of the database at ``url`` to ``dest`` while it keeps serving.

    Raises:
        BackupError: the tool or database failed.
    """
    try:
        os.close(open_private(dest))  # created 0600, never through a symlink; the tools then write into it
    except OSError as exc:
        raise BackupError(f"{dest}: cannot create the backup file: {exc}") from None
    if make_url(url).get_backend_name() == "sqlite":
        src = sqlite3.connect(_sqlite_path(url))
        out = sqlite3.connect(dest)
        try:
            with out:
                src.backup(out)  # online backup API: page by page, consistent snapshot
        except sqlite3.Error as exc:
            raise BackupError(f"SQLite backup failed: {exc}") from exc
        finally:
            out.close()
            src.close()
        os.chmod(dest, 0o600)
        return
    uri, env = _libpq(url)
    _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(dest), uri], env)
    os.chmod(dest, 0o600)


def restore(url: str, src: Path) -> None:
    """Replace the database at ``url`` with the backup in ``src``.

    Stop API workers (or expect them to reconnect) first. Raises:
        BackupError: the file or tool failed.
    """
    if not src.is_file():
        raise BackupError(f"backup file {src} not found")
    if make_url(url).get_backend_name() == "sqlite":
        bak = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        dst = sqlite3.connect(_sqlite_path(url))
        try:
            with dst:
                bak.backup(dst)
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise BackupError(f"SQLite restore failed: {exc}") from exc
        finally:
            dst.close()
            bak.close()
        return
    uri, env = _libpq(url)
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "--dbname", uri, str(src)],
         env)
