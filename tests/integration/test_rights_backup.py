"""Back up, erase, restore the backup, replay the erasure journal: nothing of that customer decrypts.

SQLite uses the online backup API, PostgreSQL pg_dump / pg_restore (custom format).
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import msgspec
from sqlalchemy import select

from tests.conftest import Creds
from tests.integration.test_rights import OP, grant, new_customer, officer
from vault.bootstrap import Vault
from vault.consent.models import ConsentEventRow
from vault.consent.service import Evidence
from vault.crypto.envelope import dek_label
from vault.crypto.errors import DecryptionError, KeyUnavailableError
from vault.crypto.keys import WrappedKey
from vault.customers.models import CustomerIndexRow, CustomerRow
from vault.db import backup
from vault.rights.models import FieldHistoryRow


async def _stored(vault: Vault, cid: uuid.UUID) -> tuple[CustomerRow, list[tuple[str, bytes]]]:
    async with vault.db.read() as session:
        row = await session.get(CustomerRow, cid)
        assert row is not None
        cts = list(msgspec.msgpack.decode(row.sealed, type=dict[str, bytes]).items())
        cts += [(f"history.{h.field}/{h.id.hex}", h.sealed) for h in (await session.scalars(
            select(FieldHistoryRow).where(FieldHistoryRow.customer_id == cid))).all() if h.sealed]
        cts += [(f"consent.evidence.ip/{e.id.hex}", e.evidence_ip) for e in (await session.scalars(
            select(ConsentEventRow).where(ConsentEventRow.customer_id == cid))).all() if e.evidence_ip]
    return row, cts


def _raw_dump(vault: Vault, path: Path) -> bytes:
    if not vault.db.is_postgres:
        db = Path(vault.db.url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    backup.backup(vault.settings.database_url, path)
    return subprocess.run(["pg_restore", "--file=-", str(path)], capture_output=True, check=True).stdout


async def test_backup_erase_restore_replay(vault: Vault, principals: dict[str, Creds], tmp_path: Path) -> None:
    rights = vault.rights()
    cid, values = await new_customer(vault)
    keep_id, keep_values = await new_customer(vault)
    await grant(vault, cid, "marketing_email", Evidence(ip="192.0.2.44", user_agent="Backup-Test/2"))
    await rights.rectify(cid, {"district": "Mapo-gu"}, officer(principals))
    before, ciphertexts = await _stored(vault, cid)
    assert before.wrapped_dek is not None and before.kek_version is not None
    old = WrappedKey(before.kek_version, before.wrapped_dek)
    assert len(ciphertexts) > len(values)

    snapshot = tmp_path / ("vault.dump" if vault.db.is_postgres else "vault-backup.db")
    backup.backup(vault.settings.database_url, snapshot)
    await rights.erase(cid, officer(principals))

    await vault.audit.drain()
    await vault.db.dispose()  # the restore replaces tables; pooled connections must not keep stale plans
    backup.restore(vault.settings.database_url, snapshot)
    restored, _ = await _stored(vault, cid)
    assert restored.wrapped_dek == old.blob  # the backup brought the customer back

    result = await rights.replay_erasures(OP)
    assert result.erased == 1 and result.entries >= 1

    after, remaining = await _stored(vault, cid)
    assert after.wrapped_dek is None and after.status == "erased" and after.ref_digest is None
    async with vault.db.read() as session:
        blobs = (await session.execute(select(CustomerRow.kek_version, CustomerRow.wrapped_dek)
                                       .where(CustomerRow.wrapped_dek.is_not(None)))).all()
        assert (await session.scalars(select(CustomerIndexRow).where(CustomerIndexRow.customer_id == cid))).all() == []
    # Try every ciphertext of theirs under every wrapped key left in the vault: nothing unwraps as their DEK.
    for version, blob in blobs:
        try:
            vault.keyring.provider.unwrap(WrappedKey(version, blob), label=dek_label(cid))
        except (DecryptionError, KeyUnavailableError):
            continue
        raise AssertionError("a wrapped key in the vault still unwraps as the erased customer's DEK")
    assert len(remaining) <= len(ciphertexts) - len(values)  # only consent evidence, as noise, is left
    # The raw database holds none of their values nor the old wrapped DEK; the other customer is intact.
    raw = _raw_dump(vault, tmp_path / "after.dump")
    assert old.blob not in raw and old.blob.hex().encode() not in raw  # pg_restore prints bytea as hex
    for value in values.values():
        # A short all-digit value (a 5-digit postal code) occurs by chance in the hex digests the log and
        # indexes store (about once per megabyte of hex), so only values that cannot collide are grepped.
        if len(value) >= 5 and not (value.isdigit() and len(value) < 10):
            assert value.encode() not in raw
    async with vault.db.read() as session:
        kept = await vault.customers(session).get(keep_id, OP)
    assert kept.fields["email"] == keep_values["email"]
    # Replaying again changes nothing.
    again = await rights.replay_erasures(OP)
    assert again.erased == 0 and again.already >= 1
