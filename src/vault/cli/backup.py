"""`vault backup create|restore` (both audited: ``backup.create``, ``backup.restore``)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vault.audit.entry import Actor, AuditEvent, Outcome
from vault.cli.common import out, run, settings, with_vault
from vault.db import backup as db_backup

if TYPE_CHECKING:  # `--help` and commands that open no vault do not import the composition root
    from vault.bootstrap import Vault

app = typer.Typer(help="Database backup and restore (keys are backed up separately).", no_args_is_help=True)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _record(action: str, path: Path) -> None:
    detail = f"sha256={_file_digest(path)} bytes={path.stat().st_size}"

    async def go(vault: Vault) -> None:
        await vault.audit.record_durable(AuditEvent(action, Outcome.ALLOWED, Actor.cli(), detail=detail))

    run(with_vault(go))


@app.command("create")
def create(dest: Path = typer.Argument(..., help="Backup file to write (mode 0600)")) -> None:
    """Back up the database while it serves (SQLite online backup API; PostgreSQL pg_dump -Fc)."""
    db_backup.backup(settings().database_url, dest)
    _record("backup.create", dest)
    out.print(f"database backed up to {dest}; the key file is NOT in it: back it up separately")


@app.command("restore")
def restore(src: Path = typer.Argument(..., exists=True, dir_okay=False, help="Backup file")) -> None:
    """Replace the database with a backup, then run `vault rights replay-erasures`.

    The restore is recorded in the restored database's audit log (``backup.restore`` with the
    backup file's SHA-256), after the entries the backup itself holds.
    """
    db_backup.restore(settings().database_url, src)
    _record("backup.restore", src)
    out.print(f"database restored from {src}; now run `vault rights replay-erasures`")
