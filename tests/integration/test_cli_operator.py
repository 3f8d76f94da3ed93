"""Issue 10, finding 12: CLI actions name who did them.

Every CLI entry records the OS user and host; erasure, export and key management act as a
named principal (VAULT_API_KEY) whose permissions apply, and both are audited.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import select

from tests.conftest import Creds
from tests.integration.test_rights import new_customer
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.config import Settings


def _cli(settings: Settings, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VAULT_DATABASE_URL": settings.database_url, "VAULT_VAR_DIR": str(settings.var_dir),
           "VAULT_CRYPTO__KEK_FILE": str(settings.crypto.kek_file),
           "VAULT_POLICY__DIRECTORY": str(settings.policy.directory),
           "VAULT_RIGHTS__ERASURE_JOURNAL": str(settings.rights.erasure_journal)}
    env.pop("VAULT_API_KEY", None)
    if key is not None:
        env["VAULT_API_KEY"] = key
    return subprocess.run([sys.executable, "-m", "vault.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=180, check=False)


async def test_privileged_commands_need_a_named_principal(vault: Vault, settings: Settings,
                                                          principals: dict[str, Creds], tmp_path: Path) -> None:
    cid, _ = await new_customer(vault)
    r = _cli(settings, "rights", "export", "--customer", str(cid), "--out", str(tmp_path / "x.json"))
    assert r.returncode == 1 and "VAULT_API_KEY" in r.stderr
    assert not (tmp_path / "x.json").exists()
    # A principal without the permission (admin: keys and principals, no personal data) is refused.
    r = _cli(settings, "rights", "erase", "--customer", str(cid), key=principals["admin"].key)
    assert r.returncode == 1 and "subjects:erase" in r.stderr
    officer = principals["compliance_officer"]
    r = _cli(settings, "rights", "erase", "--customer", str(cid), key=officer.key)
    assert r.returncode == 0, r.stderr
    async with vault.db.read() as session:
        entry = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.customer_id == cid, AuditEntryRow.action == "subject.erase",
            AuditEntryRow.outcome == "allowed"))).one()
    assert entry.principal_id == officer.principal.id
    assert entry.principal_name is not None
    assert f"via {getpass.getuser()}@{socket.gethostname()} (rights erase)" in entry.principal_name
    r = _cli(settings, "keys", "retire", f"v{uuid.uuid4().hex[:4]}", key=officer.key)
    assert r.returncode == 1 and "keys:manage" in r.stderr
