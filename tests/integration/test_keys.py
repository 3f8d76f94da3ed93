"""KEK rotation (resumable, live) and blind-index key rotation, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from tests.integration.test_rights import OP, new_customer
from vault.bootstrap import Vault
from vault.crypto.envelope import FieldCipher
from vault.crypto.errors import KeyUnavailableError
from vault.crypto.keyring import Keyring
from vault.crypto.keys import LocalKeyProvider, load_key_file, read_key_file
from vault.customers.models import CustomerIndexRow, CustomerRow
from vault.customers.records import seal_new
from vault.customers.service import CustomerService
from vault.keys.store import load_keyring
from vault.rights.errors import KeyInUseError


async def _readable(vault: Vault, ids: list[uuid.UUID]) -> None:
    async with vault.db.read() as session:
        svc = vault.customers(session)
        for cid in ids:
            assert (await svc.get(cid, OP)).fields["customer_ref"]


async def test_rotation_interrupted_resumes_and_old_writers_are_caught(vault: Vault) -> None:
    ids = [(await new_customer(vault))[0] for _ in range(40)]
    rotation = vault.key_rotation(batch_size=7)
    first = vault.keyring.provider.current_version
    # A worker started before the rotation: it only knows the old KEK version.
    keys, _ = read_key_file(vault.settings.crypto.kek_file)
    stale = LocalKeyProvider(keys, first)

    new = vault.keyring.provider.add_version()
    assert new != first and vault.keyring.provider.current_version == new
    done = await rotation.rewrap(limit=14)  # interrupted half-way
    assert 14 <= done < 40
    status = await rotation.status()
    usage = {u.version: u for u in status.kek}
    assert usage[new].deks >= 14 and usage[first].deks > 0 and status.pending_rewrap > 0
    await _readable(vault, ids)  # mixed versions: everyone stays readable mid-rotation
    with pytest.raises(KeyInUseError, match="still wraps"):
        await rotation.retire(first)

    # Meanwhile the old worker stores a customer under the old version.
    late = seal_new(Keyring(stale, FieldCipher(stale), vault.keyring.index, vault.keyring.pseudonyms,
                            vault.keyring.audit_signer, vault.keyring.receipt_signer),
                    vault.policies.catalogue, {"customer_ref": f"late-{uuid.uuid4().hex[:8]}", "name": "Late Writer"})
    assert late.row["kek_version"] == first
    async with vault.db.write() as session:
        from sqlalchemy import insert

        await session.execute(insert(CustomerRow), [late.row])
    # A fresh provider from the same (rotated) file still reads everything, including the late row.
    other = load_key_file(vault.settings.crypto.kek_file)
    assert other.current_version == new

    await rotation.rewrap()  # resume
    status = await rotation.status()
    assert status.pending_rewrap == 0
    assert {u.version: u.deks for u in status.kek}[first] == 0
    await _readable(vault, [*ids, late.row["id"]])
    with pytest.raises(KeyUnavailableError, match="current"):
        await rotation.retire(new)
    await rotation.retire(first)
    assert first not in read_key_file(vault.settings.crypto.kek_file)[0]
    assert first not in vault.keyring.provider.versions()
    await _readable(vault, [*ids, late.row["id"]])
    # A process that had only the old version reloads the file when it meets the new one.
    stale_file = load_key_file(vault.settings.crypto.kek_file)
    assert stale_file.current_version == new


async def test_old_worker_reloads_the_key_file_after_rotation(vault: Vault) -> None:
    path = vault.settings.crypto.kek_file
    worker = load_key_file(path)  # loaded before the rotation
    before = worker.current_version
    cid, _ = await new_customer(vault)
    rotation = vault.key_rotation()
    await rotation.rotate()
    async with vault.db.read() as session:
        row = await session.get(CustomerRow, cid)
    assert row is not None and row.kek_version != before
    keyring = Keyring(worker, FieldCipher(worker), vault.keyring.index, vault.keyring.pseudonyms,
                      vault.keyring.audit_signer, vault.keyring.receipt_signer)
    async with vault.db.read() as session:
        svc = CustomerService(session, vault.customer_deps.__class__(
            keyring, *list(vault.customer_deps.__dict__.values())[1:]))
        assert (await svc.get(cid, OP)).fields["customer_ref"]
    assert worker.current_version == row.kek_version  # and it now wraps under the new version


async def test_index_key_rotation_keeps_lookups_working(vault: Vault) -> None:
    made = [await new_customer(vault) for _ in range(25)]
    old_keyring = vault.keyring
    rotation = vault.key_rotation(batch_size=6)

    async def found(keyring: Keyring, values: dict[str, str]) -> bool:
        deps = vault.customer_deps.__class__(keyring, *list(vault.customer_deps.__dict__.values())[1:])
        async with vault.db.read() as session:
            svc = CustomerService(session, deps)
            for by in ("email", "customer_ref"):
                if len(await svc.lookup(by, values[by], OP)) != 1:
                    return False
            return True

    from vault.keys.store import add_system_key_version

    async with vault.db.write() as session:
        target = await add_system_key_version(session, vault.keyring.provider, "blind_index")
    async with vault.db.read() as session:
        new_keyring = await load_keyring(session, vault.keyring.provider)
    assert new_keyring.index.version == target and len(new_keyring.indexes) >= 2
    done = await rotation.rebuild_index(new_keyring, vault.policies.catalogue, limit=12)  # interrupted
    assert done < len(made) + 1000
    assert await rotation.index_behind(target) > 0
    with pytest.raises(KeyInUseError, match="not rebuilt"):
        await rotation.finalize_index(new_keyring)
    for _, values in made[:5] + made[-5:]:
        assert await found(old_keyring, values) and await found(new_keyring, values)
    # A customer created meanwhile by a process that knows the new key is found by the new keyring.
    vault.keyring = new_keyring
    late_id, late_values = await new_customer(vault)
    assert await found(new_keyring, late_values)

    await rotation.rebuild_index(new_keyring, vault.policies.catalogue)  # resume
    assert await rotation.index_behind(target) == 0
    retired = await rotation.finalize_index(new_keyring)
    assert retired >= 1
    async with vault.db.read() as session:
        final = await load_keyring(session, vault.keyring.provider)
        versions = set((await session.scalars(select(CustomerIndexRow.key_version).distinct())).all())
        refs = (await session.scalar(select(func.count()).select_from(CustomerIndexRow)
                                     .where(CustomerIndexRow.field == "customer_ref")))
    assert final.indexes == (final.index,) and final.index.version == target
    assert versions == {target} and refs == 0
    vault.keyring = final
    for _, values in [*made, (late_id, late_values)]:
        assert await found(final, values)
    assert not await found(old_keyring, made[0][1])  # the old key no longer finds anybody
