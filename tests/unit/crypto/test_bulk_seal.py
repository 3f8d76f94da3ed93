"""The bulk import's batch sealing writes exactly what the one-by-one path writes (and opens with it)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from vault.crypto import BlindIndexer, DecryptionError, FieldCipher, LocalKeyProvider, WrappedKey
from vault.crypto.keys import FileKeyProvider, generate_key_file
from vault.customers import records
from vault.db.bulk import BulkInsert, Column
from vault.lib.ids import new_ids_hex
from vault.policy.catalogue import load_catalogue
from vault.policy.purposes import load_purposes

POLICIES = Path(__file__).resolve().parents[3] / "policies"


def test_new_ids_hex_are_distinct_uuid7() -> None:
    ids = new_ids_hex(5000)
    assert len(set(ids)) == 5000
    for h in ids[:200]:
        u = uuid.UUID(hex=h)
        assert u.version == 7 and u.variant == uuid.RFC_4122 and u.hex == h


def test_wrap_many_unwraps_one_by_one_and_binds_the_label() -> None:
    provider = LocalKeyProvider({"v1": os.urandom(32)}, "v1")
    keys = [os.urandom(32) for _ in range(50)]
    version, blobs = provider.wrap_many(keys, [f"dek:{i}" for i in range(50)])
    assert version == "v1" and len({b[:12] for b in blobs}) == 50  # a fresh nonce each
    for i, (key, blob) in enumerate(zip(keys, blobs, strict=True)):
        assert provider.unwrap(WrappedKey(version, blob), label=f"dek:{i}") == key
    with pytest.raises(DecryptionError):
        provider.unwrap(WrappedKey(version, blobs[0]), label="dek:1")


def test_file_provider_wrap_many_follows_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "kek.json"
    generate_key_file(path)
    provider = FileKeyProvider(path)
    assert provider.wrap_many([os.urandom(32)], ["dek:x"])[0] == "v1"
    FileKeyProvider(path).add_version()  # another process rotates
    assert provider.wrap_many([os.urandom(32)], ["dek:x"])[0] == "v2"


def test_seal_batch_opens_with_the_single_customer_path() -> None:
    catalogue = load_catalogue(POLICIES / "pii.yaml", load_purposes(POLICIES / "purposes.yaml"))
    cipher = FieldCipher(LocalKeyProvider({"v1": os.urandom(32)}, "v1"))
    index = BlindIndexer(os.urandom(32))
    values = [{"customer_ref": f"C-{i}", "name": "김민서", "email": f"u{i}@example.com", "phone": "+821012345678"}
              for i in range(3)]
    values[1]["rrn"] = "900101-1234567"  # check digit does not match: kept with a flag
    batch = records.seal_batch(cipher, index, catalogue, values)
    assert len(batch.hex_ids) == 3 and batch.kek_version == "v1"
    for pos, expected in enumerate(values):
        cid = uuid.UUID(hex=batch.hex_ids[pos])
        key = cipher.customer_key(cid, WrappedKey(batch.kek_version, batch.wrapped[pos]), 1)
        assert records.open_fields(key, batch.sealed[pos]) == expected
        assert batch.ref_digests[pos] == index.digest("customer_ref", expected["customer_ref"])
        assert b"example.com" not in batch.sealed[pos] and "김민서".encode() not in batch.sealed[pos]
    searchable = {n for n in catalogue.searchable if n != "customer_ref"}
    assert {(p, f) for p, f, _ in batch.index_rows} == {(p, f) for p in range(3) for f in values[p] if f in searchable}
    assert all(d == index.digest(f, values[p][f]) for p, f, d in batch.index_rows)
    assert [(p, f) for p, f, _ in batch.flag_rows] == [(1, "rrn")]
    # a ciphertext moved to another customer fails, as on the single path
    other = cipher.customer_key(uuid.UUID(hex=batch.hex_ids[0]), WrappedKey("v1", batch.wrapped[0]), 1)
    with pytest.raises(DecryptionError):
        records.open_fields(other, batch.sealed[2])


def test_bulk_insert_statements() -> None:
    stmt = BulkInsert("t", (Column("a", "uuid"), Column("b", "bytea")), constants=(("c", "'{}'", "'{}'::json", "{}"),),
                      conflict="b")
    assert stmt.sql(sqlite=True) == "INSERT INTO t (a, b, c) VALUES (?, ?, '{}') ON CONFLICT (b) DO NOTHING"
    assert stmt.sql(sqlite=False) == ("INSERT INTO t (a, b, c) SELECT u.c0, u.c1, '{}'::json FROM "
                                      "unnest($1::uuid[], $2::bytea[]) AS u(c0, c1) ON CONFLICT (b) DO NOTHING")
