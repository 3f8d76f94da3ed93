"""Batch paths used by extracts and contact pages: same answers as the one-at-a-time API, same refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import uuid

import pytest

from vault.audit.entry import subjects_digest
from vault.audit.subjects import SubjectList
from vault.crypto.envelope import FieldCipher
from vault.crypto.errors import DecryptionError, KeyUnavailableError
from vault.crypto.keys import KeyProvider, LocalKeyProvider
from vault.crypto.pseudonym import Pseudonymizer, b32_lower_128


def _cipher() -> FieldCipher:
    return FieldCipher(LocalKeyProvider({"k1": os.urandom(32)}, "k1"))


def test_open_many_matches_open_and_skips_absent_fields() -> None:
    cipher = _cipher()
    records, expected = [], []
    for i in range(50):
        cid = uuid.uuid4()
        key, wrapped = cipher.new_customer_key(cid)
        values = {"gender": "FMX"[i % 3], "city": "서울특별시"} | ({"birth_date": "1985-03-02"} if i % 2 else {})
        records.append((cid.hex, wrapped, key.version, {n: key.seal(n, v) for n, v in values.items()}))
        expected.append({n: v for n, v in values.items() if n in {"gender", "birth_date"}})
    assert list(cipher.open_many(records, ["gender", "birth_date"])) == expected


def test_open_many_refuses_moved_ciphertexts() -> None:
    cipher = _cipher()
    a, b = uuid.uuid4(), uuid.uuid4()
    key_a, wrapped_a = cipher.new_customer_key(a)
    blob = key_a.seal("city", "서울특별시")
    with pytest.raises(DecryptionError, match="'gender'"):  # moved to another field
        list(cipher.open_many([(a.hex, wrapped_a, 1, {"gender": blob})], ["gender"]))
    with pytest.raises(DecryptionError):  # a DEK wrapped for a moved to b
        list(cipher.open_many([(b.hex, wrapped_a, 1, {"city": blob})], ["city"]))
    with pytest.raises(DecryptionError, match="malformed"):
        list(cipher.open_many([(a.hex, wrapped_a, 1, {"city": b"\x02" + blob[1:]})], ["city"]))


def test_open_rows_matches_open_many_and_refuses_what_it_refuses() -> None:
    """The contact pages' path: raw rows, DEKs unwrapped in one provider call."""
    cipher = _cipher()
    rows, records = [], []
    for i in range(30):
        cid = uuid.uuid4()
        key, wrapped = cipher.new_customer_key(cid)
        blobs = {"email": key.seal("email", f"u{i}@example.com")} | ({"phone": key.seal("phone", "+821012345678")}
                                                                    if i % 2 else {})
        rows.append((cid.hex, wrapped.kek_version, wrapped.blob, key.version, blobs))
        records.append((cid.hex, wrapped, key.version, blobs))
    assert cipher.open_rows(rows, ["phone", "email"]) == list(cipher.open_many(records, ["phone", "email"]))
    assert cipher.open_rows([], ["email"]) == []
    hex_a, kek, blob, version, blobs = rows[0]
    hex_b = rows[1][0]
    with pytest.raises(DecryptionError, match="'phone'"):  # moved to another field
        cipher.open_rows([(hex_a, kek, blob, version, {"phone": blobs["email"]})], ["phone"])
    with pytest.raises(DecryptionError):  # a's DEK presented as b's
        cipher.open_rows([(hex_b, kek, blob, version, blobs)], ["email"])
    with pytest.raises(DecryptionError):  # another DEK version in the associated data
        cipher.open_rows([(hex_a, kek, blob, version + 1, blobs)], ["email"])
    with pytest.raises(DecryptionError, match="malformed"):
        cipher.open_rows([(hex_a, kek, blob, version, {"email": b"\x02" + blobs["email"][1:]})], ["email"])
    with pytest.raises(KeyUnavailableError):
        cipher.open_rows([(hex_a, "k9", blob, version, blobs)], ["email"])


def test_unwrap_many_equals_unwrap_for_every_provider_shape() -> None:
    keys = {"k1": os.urandom(32), "k2": os.urandom(32)}
    old, new = LocalKeyProvider(keys, "k1"), LocalKeyProvider(keys, "k2")
    items = [(old if i % 2 else new).wrap(os.urandom(32), label=f"dek:{i}") for i in range(10)]
    triples = [(w.kek_version, w.blob, f"dek:{i}") for i, w in enumerate(items)]
    expected = [new.unwrap(w, label=f"dek:{i}") for i, w in enumerate(items)]
    assert new.unwrap_many(triples) == expected
    assert KeyProvider.unwrap_many(new, triples) == expected  # the default, one by one
    with pytest.raises(DecryptionError, match="dek:0"):
        new.unwrap_many([(triples[1][0], triples[1][1], "dek:0")])


def test_project_pseudonyms_batch_equals_single() -> None:
    p = Pseudonymizer(bytes(range(32)))
    ids = [uuid.uuid4() for _ in range(200)]
    project = p.for_project("churn")
    assert project.many(b"".join(i.bytes for i in ids)) == [p.pseudonym("churn", i) for i in ids]
    key = hmac.digest(bytes(range(32)), b"vault.pseudonym|churn", hashlib.sha256)  # the documented derivation
    mac = hmac.digest(key, ids[0].bytes, hashlib.sha256)[:16]
    assert project.of(ids[0]) == base64.b32encode(mac).decode().rstrip("=").lower()
    rotated = p.for_project("churn", key_version=2)
    assert not set(rotated.many(b"".join(i.bytes for i in ids))) & set(project.many(b"".join(i.bytes for i in ids)))


def test_b32_matches_the_standard_library() -> None:
    data = os.urandom(16 * 300) + bytes(16) + b"\xff" * 16
    assert b32_lower_128(data) == [base64.b32encode(data[i:i + 16]).decode().rstrip("=").lower()
                                   for i in range(0, len(data), 16)]
    assert b32_lower_128(b"") == []


def test_subject_list_extend_packed_keeps_order_and_digest() -> None:
    ids = sorted(uuid.uuid4() for _ in range(100))
    one, packed = SubjectList(), SubjectList()
    for cid in ids[:10]:
        one.append(cid)
        packed.append(cid)
    for cid in ids[10:]:
        one.append(cid)
    packed.extend_packed(b"".join(c.bytes for c in ids[10:60]))
    packed.extend_packed(b"".join(c.bytes for c in ids[60:]))
    assert packed.digest() == one.digest() == subjects_digest(ids)
    assert list(packed) == ids
    with pytest.raises(ValueError, match="ascending"):
        packed.extend_packed(ids[5].bytes)
    with pytest.raises(ValueError, match="16 bytes"):
        packed.extend_packed(b"abc")
