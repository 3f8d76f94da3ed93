"""Issue 10, finding 10: after a restore, the vault refuses to serve until the erasure journal is replayed.

Back up, erase a customer, restore the backup: the erased customer is back in the database.
An app started now answers 503 on ``/v1`` (health still answers) until
``vault rights replay-erasures`` has run.
"""

from __future__ import annotations

from pathlib import Path

from litestar.testing import AsyncTestClient

from tests.conftest import Creds
from tests.integration.test_rights import OP, new_customer, officer
from vault.api.app import create_app
from vault.bootstrap import Vault
from vault.config import Settings
from vault.db import backup


async def _status(settings: Settings, principals: dict[str, Creds]) -> tuple[int, str]:
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.get("/health")).status_code == 200
        r = await client.get("/v1/purposes", headers=principals["admin"].headers)
        return r.status_code, r.text


async def test_restore_refuses_service_until_replay(vault: Vault, settings: Settings, principals: dict[str, Creds],
                                                    tmp_path: Path) -> None:
    cid, _ = await new_customer(vault)
    assert (await _status(settings, principals))[0] == 200
    snapshot = tmp_path / ("vault.dump" if vault.db.is_postgres else "vault-backup.db")
    backup.backup(settings.database_url, snapshot)
    await vault.rights().erase(cid, officer(principals))
    assert await vault.rights().unreplayed() == 0
    await vault.db.dispose()
    backup.restore(settings.database_url, snapshot)
    assert await vault.rights().unreplayed() == 1
    status, body = await _status(settings, principals)
    assert status == 503
    assert "replay-erasures" in body and "erasures_not_replayed" in body
    await vault.rights().replay_erasures(OP)
    assert await vault.rights().unreplayed() == 0
    assert (await _status(settings, principals))[0] == 200
