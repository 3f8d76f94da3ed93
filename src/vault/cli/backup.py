"""`vault backup create|restore`."""

from __future__ import annotations

from pathlib import Path

import typer

from vault.cli.common import out, settings
from vault.db import backup as db_backup

app = typer.Typer(help="Database backup and restore (keys are backed up separately).", no_args_is_help=True)


@app.command("create")
def create(dest: Path = typer.Argument(..., help="Backup file to write (mode 0600)")) -> None:
    """Back up the database while it serves (SQLite online backup API; PostgreSQL pg_dump -Fc)."""
    db_backup.backup(settings().database_url, dest)
    out.print(f"database backed up to {dest}; the key file is NOT in it: back it up separately")


@app.command("restore")
def restore(src: Path = typer.Argument(..., exists=True, dir_okay=False, help="Backup file")) -> None:
    """Replace the database with a backup, then run `vault rights replay-erasures`."""
    db_backup.restore(settings().database_url, src)
    out.print(f"database restored from {src}; now run `vault rights replay-erasures`")
