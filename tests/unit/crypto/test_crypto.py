"""Envelope encryption, key wrapping, blind indexes, pseudonyms, signatures."""

from __future__ import annotations

import base64
import json
import os
import stat
import uuid
from pathlib import Path

import pytest

from vault.crypto import (
    BlindIndexer,
    DecryptionError,
    FieldCipher,
    KeyFileError,
    LocalKeyProvider,
    Pseudonymizer,
    SignatureError,
    Signer,
    WrappedKey,
    generate_key_file,
    load_env_keys,
    load_key_file,
    verify,
)
from vault.crypto.envelope import CustomerKey

KEK = bytes(range(32))
CID = uuid.UUID("12345678-1234-5678-1234-567812345678")
OTHER = uuid.UUID("87654321-4321-8765-4321-876543218765")


def provider() -> LocalKeyProvider:
    return LocalKeyProvider({"v1": KEK}, "v1")


def test_blind_index_known_answer() -> None:
    # HMAC-SHA256(key=0x00..1f, "email\x00hong@example.com"), computed independently with openssl.
    idx = BlindIndexer(bytes(range(32)))
    assert idx.digest("email", "hong@example.com").hex() == (
        "2e567a669fe7725b1168ba9feaa62988f66052cf677153b00999ede9930a2989"
    )


def test_field_ciphertext_known_answer() -> None:
    # A blob sealed once with DEK 0x00..1f for CID/"email"/v1; opening it must keep working forever.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = CustomerKey(CID, 1, AESGCM(bytes(range(32))))
    blob = bytes.fromhex(KAT_BLOB)
    assert key.open("email", blob) == "hong@example.com"


# format byte 01 || nonce 00..0b || AES-256-GCM(key 00..1f, aad "<cid hex>|email|1") of "hong@example.com"
KAT_BLOB = "01000102030405060708090a0b2f6db87c8580ba7ae031fbee9f8a170006dcce066dc67479d6ea5d85f52a00a0"


def test_seal_open_roundtrip_korean() -> None:
    cipher = FieldCipher(provider())
    key, wrapped = cipher.new_customer_key(CID)
    blob = key.seal("name", "홍길동")
    assert b"\xed\x99\x8d" not in blob  # no UTF-8 of 홍 in the ciphertext
    again = cipher.customer_key(CID, wrapped, 1)
    assert again.open("name", blob) == "홍길동"


def test_ciphertext_moved_to_other_field_fails() -> None:
    key, _ = FieldCipher(provider()).new_customer_key(CID)
    blob = key.seal("email", "a@b.co")
    with pytest.raises(DecryptionError, match="failed authentication"):
        key.open("phone", blob)


def test_ciphertext_moved_to_other_customer_fails() -> None:
    cipher = FieldCipher(provider())
    key, wrapped = cipher.new_customer_key(CID)
    blob = key.seal("email", "a@b.co")
    # Same DEK, other customer id: the associated data no longer matches.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    dek = provider().unwrap(wrapped, label=f"dek:{CID.hex}")
    with pytest.raises(DecryptionError):
        CustomerKey(OTHER, 1, AESGCM(dek)).open("email", blob)
    # And the wrapped DEK itself cannot be moved to another customer.
    with pytest.raises(DecryptionError):
        cipher.customer_key(OTHER, wrapped, 1)


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_tampered_ciphertext_fails(position: int) -> None:
    key, _ = FieldCipher(provider()).new_customer_key(CID)
    blob = bytearray(key.seal("email", "a@b.co"))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        key.open("email", bytes(blob))


def test_wrong_key_version_fails() -> None:
    key, _ = FieldCipher(provider()).new_customer_key(CID, version=1)
    blob = key.seal("email", "a@b.co")
    with pytest.raises(DecryptionError):
        CustomerKey(CID, 2, key.aead).open("email", blob)


def test_unwrap_under_other_kek_fails() -> None:
    wrapped = provider().wrap(b"k" * 32, label="x")
    other = LocalKeyProvider({"v1": os.urandom(32)}, "v1")
    with pytest.raises(DecryptionError):
        other.unwrap(wrapped, label="x")
    with pytest.raises(DecryptionError):
        provider().unwrap(WrappedKey("v1", wrapped.blob), label="y")


def test_rewrap_to_new_kek_version() -> None:
    old = LocalKeyProvider({"v1": KEK}, "v1")
    both = LocalKeyProvider({"v1": KEK, "v2": os.urandom(32)}, "v2")
    key, wrapped = FieldCipher(old).new_customer_key(CID)
    blob = key.seal("email", "a@b.co")
    rewrapped = FieldCipher(both).rewrap(CID, wrapped)
    assert rewrapped.kek_version == "v2"
    assert FieldCipher(both).customer_key(CID, rewrapped, 1).open("email", blob) == "a@b.co"


def test_key_file_mode_and_no_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "kek.json"
    generate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        generate_key_file(path)
    assert path.read_bytes() == before
    p = load_key_file(path)
    assert p.current_version == "v1"


def test_key_file_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not found"):
        load_key_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "customer-vault-kek/1", "current": "v1", "keys": {"v1": "short"}}))
    with pytest.raises(KeyFileError):
        load_key_file(bad)


def test_env_keys() -> None:
    k1, k2 = base64.b64encode(os.urandom(32)).decode(), base64.b64encode(os.urandom(32)).decode()
    p = load_env_keys(f"v1:{k1},v2:{k2}", var="VAULT_KEK")
    assert p.current_version == "v2"
    assert p.versions() == ("v1", "v2")
    with pytest.raises(KeyFileError):
        load_env_keys("", var="VAULT_KEK")
    with pytest.raises(KeyFileError, match="base64"):
        load_env_keys("v1:!!!", var="VAULT_KEK")


def test_pseudonyms_stable_per_project_unlinkable_across() -> None:
    p = Pseudonymizer(bytes(32))
    assert p.pseudonym("churn-2026", CID) == p.pseudonym("churn-2026", CID)
    assert p.pseudonym("churn-2026", CID) != p.pseudonym("ltv-2026", CID)
    assert p.pseudonym("churn-2026", CID) != p.pseudonym("churn-2026", OTHER)
    assert len(p.pseudonym("x", CID)) == 26


def test_signatures() -> None:
    s = Signer(bytes(32))
    sig = s.sign(b"head")
    verify(s.public_key, b"head", sig)
    with pytest.raises(SignatureError):
        verify(s.public_key, b"head2", sig)
