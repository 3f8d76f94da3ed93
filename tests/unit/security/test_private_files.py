"""Issue 10, low finding: exports and backups are private from creation and never follow a symlink."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vault.db import backup
from vault.lib.files import UnsafePathError, write_private


def test_created_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        target = tmp_path / "export.json"
        write_private(target, b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    loose = tmp_path / "old.json"
    loose.write_text("x")
    loose.chmod(0o644)
    write_private(loose, b"{}")
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


def test_symlink_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("untouched")
    link = tmp_path / "export.json"
    link.symlink_to(elsewhere)
    with pytest.raises(UnsafePathError):
        write_private(link, b"secret")
    assert elsewhere.read_text() == "untouched"


def test_backup_refuses_a_symlinked_target(tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    import sqlite3

    sqlite3.connect(db).close()
    elsewhere = tmp_path / "elsewhere.db"
    elsewhere.write_text("untouched")
    link = tmp_path / "backup.db"
    link.symlink_to(elsewhere)
    with pytest.raises(backup.BackupError, match="symbolic link"):
        backup.backup(f"sqlite+aiosqlite:///{db}", link)
    assert elsewhere.read_text() == "untouched"
    ok = tmp_path / "backup-ok.db"
    backup.backup(f"sqlite+aiosqlite:///{db}", ok)
    assert stat.S_IMODE(ok.stat().st_mode) == 0o600
