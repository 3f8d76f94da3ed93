"""Command start: a `vault` command builds only what it uses, and changed policy files are still validated."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from vault.bootstrap import open_vault
from vault.config import PolicySettings, Settings
from vault.errors import VaultError

if TYPE_CHECKING:
    from pathlib import Path

    from vault.bootstrap import Vault

# Runs `vault principals list` in process, then names the heavy modules it imported.
PROBE = """
import sys
sys.argv = ["vault", "principals", "list"]
from vault.cli.main import app
try:
    app()
except SystemExit:
    pass
heavy = ("rich", "casbin", "numpy", "phonenumbers", "presidio_analyzer", "spacy", "polars", "yaml",
         "vault.policy.catalogue", "vault.policy.purposes", "vault.consent.service", "vault.rights.service")
print("IMPORTED", ",".join(m for m in heavy if m in sys.modules))
"""


def _env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "VAULT_DATABASE_URL": settings.database_url,
            "VAULT_CRYPTO__KEK_FILE": str(settings.crypto.kek_file),
            "VAULT_POLICY__DIRECTORY": str(settings.policy.directory)}


def test_listing_principals_parses_no_policy_and_imports_no_heavy_module(settings: Settings, vault: Vault) -> None:
    del vault  # the module's vault exists and recorded the policy files' digest
    out = subprocess.run([sys.executable, "-c", PROBE], env=_env(settings), capture_output=True, text=True,
                         timeout=120, check=True)
    assert "IMPORTED \n" in out.stdout or out.stdout.rstrip().endswith("IMPORTED"), out.stdout + out.stderr


def test_root_help_lists_every_command_without_importing_them() -> None:
    from vault.cli.main import COMMANDS, GROUPS

    probe = ("import sys\nsys.argv = ['vault', '--help']\nfrom vault.cli.main import app\ntry:\n    app()\n"
             "except SystemExit:\n    pass\n"
             "print('LOADED', sorted(m for m in sys.modules if m.startswith('vault.cli.')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    rows = out.stdout.split("Commands", 1)[1].splitlines()
    listed = {line.split()[0] for line in rows if line.startswith("  ") and line[2] != " "}  # not wrapped help
    assert listed == {*GROUPS, *COMMANDS}
    assert "LOADED ['vault.cli.main']" in out.stdout


async def test_unchanged_policies_are_parsed_on_first_use(settings: Settings, vault: Vault) -> None:
    del vault
    v = await open_vault(settings)
    try:
        assert v.loaded_policies is None
        assert "service_delivery" in {p.id for p in v.policies.purposes}
        assert v.loaded_policies is not None
    finally:
        await v.close()


async def test_a_changed_policy_file_is_validated_at_the_next_start(settings: Settings, vault: Vault,
                                                                     tmp_path: Path) -> None:
    del vault
    policies = tmp_path / "policies"
    shutil.copytree(settings.policy.directory, policies)
    local = settings.model_copy(update={"policy": PolicySettings(directory=policies)})  # type: ignore[call-arg]
    v = await open_vault(local)
    await v.close()
    with (policies / "purposes.yaml").open("a") as fh:
        fh.write("\nnot: [valid\n")
    with pytest.raises(VaultError):
        await open_vault(local)
