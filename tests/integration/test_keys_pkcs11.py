"""The PKCS#11 KEK provider against SoftHSM2: wrap/unwrap in the token, rotation, and moving a vault's
keys from the key file into the HSM (layered provider, rewrap, retire the file versions)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_rights import OP, new_customer
from vault.bootstrap import Vault
from vault.crypto.envelope import FieldCipher
from vault.crypto.errors import DecryptionError, KeyUnavailableError
from vault.crypto.keyring import Keyring
from vault.crypto.keys import LayeredKeyProvider, WrappedKey
from vault.customers.service import CustomerService
from vault.keys.runner import KeyRotation

LIBRARY = os.environ.get("VAULT_TEST_PKCS11_LIBRARY", "/usr/lib/softhsm/libsofthsm2.so")
pytestmark = pytest.mark.skipif(
    not Path(LIBRARY).exists() or shutil.which("softhsm2-util") is None,
    reason=f"SoftHSM2 not installed ({LIBRARY} / softhsm2-util missing): apt-get install softhsm2",
)
PIN = "4321"


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh SoftHSM2 token in a temporary token directory."""
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    label = f"vault-{uuid.uuid4().hex[:8]}"
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", "87654321"],
                   check=True, capture_output=True)
    yield label
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


def _hsm(label: str, *, create: bool = False):  # type: ignore[no-untyped-def]
    from vault.crypto.pkcs11 import Pkcs11KeyProvider

    return Pkcs11KeyProvider(LIBRARY, label, PIN, create=create)


def test_wrap_rotate_retire_in_the_token(token: str) -> None:
    with pytest.raises(KeyUnavailableError, match="holds no key"):
        _hsm(token)
    hsm = _hsm(token, create=True)
    assert hsm.versions() == ("hsm-v1",)
    dek = os.urandom(32)
    wrapped = hsm.wrap(dek, label="dek:abc")
    assert wrapped.kek_version == "hsm-v1" and dek not in wrapped.blob
    assert hsm.unwrap(wrapped, label="dek:abc") == dek
    with pytest.raises(DecryptionError):
        hsm.unwrap(wrapped, label="dek:other")  # the label is bound as AAD inside the token
    assert hsm.add_version() == "hsm-v2"
    moved = hsm.rewrap(wrapped, label="dek:abc")
    assert moved.kek_version == "hsm-v2" and hsm.unwrap(moved, label="dek:abc") == dek
    other_session = _hsm(token)  # another process sees the new version on the token
    assert other_session.current_version == "hsm-v2"
    with pytest.raises(KeyUnavailableError, match="current"):
        hsm.remove_version("hsm-v2")
    hsm.remove_version("hsm-v1")
    with pytest.raises(KeyUnavailableError):
        hsm.unwrap(wrapped, label="dek:abc")
    assert other_session.unwrap(moved, label="dek:abc") == dek


async def test_move_a_vault_from_the_key_file_into_the_hsm(vault: Vault, token: str) -> None:
    ids = [(await new_customer(vault))[0] for _ in range(12)]
    file_provider = vault.keyring.provider
    layered = LayeredKeyProvider(_hsm(token), file_provider)
    rotation = KeyRotation(vault.db, layered, batch_size=5)
    assert await rotation.pending() >= len(ids)
    await rotation.rewrap()
    status = await rotation.status()
    assert status.pending_rewrap == 0 and status.current.startswith("hsm-v")
    usage = {u.version: u.deks + u.system_keys for u in status.kek}
    assert all(usage[v] == 0 for v in file_provider.versions())  # the key file is no longer needed
    hsm_only = _hsm(token)
    keyring = Keyring(hsm_only, FieldCipher(hsm_only), vault.keyring.index, vault.keyring.pseudonyms,
                      vault.keyring.audit_signer, vault.keyring.receipt_signer, vault.keyring.indexes)
    deps = vault.customer_deps.__class__(keyring, *list(vault.customer_deps.__dict__.values())[1:])
    async with vault.db.read() as session:
        svc = CustomerService(session, deps)
        for cid in ids:
            assert (await svc.get(cid, OP)).fields["customer_ref"]
    vault.keyring = keyring  # later modules in this process would otherwise use the file KEK
    with pytest.raises(KeyUnavailableError):
        hsm_only.unwrap(WrappedKey(file_provider.current_version, b"\0" * 60), label="x")
