"""Sealing and opening customer records: the only place customer fields meet the cipher."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from vault.crypto.keys import WrappedKey
from vault.customers.quality import flag_rows
from vault.customers.sealing import SealedBatch, seal_batch
from vault.lib.clock import utcnow
from vault.lib.ids import new_id

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator

    from vault.crypto.blind_index import BlindIndexer
    from vault.crypto.envelope import CustomerKey, FieldCipher
    from vault.crypto.keyring import Keyring
    from vault.customers.models import CustomerRow
    from vault.policy.catalogue import FieldCatalogue

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(dict[str, bytes]).decode

__all__ = [
    "SealedBatch", "SealedCustomer", "customer_key", "open_fields", "open_many", "reseal", "seal_batch", "seal_new",
    "seal_values", "sealed_field_names",
]


@dataclass(slots=True)
class SealedCustomer:
    """Everything to insert for one new customer (no plaintext)."""

    row: dict[str, Any]
    index_rows: list[dict[str, Any]] = field(default_factory=list)
    #: Data-quality flags of the values (vault.customers.quality): field and code, no value.
    flag_rows: list[dict[str, Any]] = field(default_factory=list)


def seal_new(
    keyring: Keyring, catalogue: FieldCatalogue, values: dict[str, str], *, customer_id: uuid.UUID | None = None
) -> SealedCustomer:
    """Seal normalized ``values`` of a new customer under a fresh DEK, with blind indexes."""
    return seal_values(keyring.cipher, keyring.index, catalogue, values, customer_id=customer_id)


def seal_values(
    cipher: FieldCipher, index: BlindIndexer, catalogue: FieldCatalogue, values: dict[str, str], *,
    customer_id: uuid.UUID | None = None,
) -> SealedCustomer:
    """Seal with explicit collaborators (what the bulk importer's worker processes hold)."""
    cid = customer_id or new_id()
    key, wrapped = cipher.new_customer_key(cid)
    now = utcnow()
    sealed = {name: key.seal(name, value) for name, value in values.items()}
    row = {
        "id": cid,
        "ref_digest": index.digest("customer_ref", values["customer_ref"]),
        "kek_version": wrapped.kek_version,
        "wrapped_dek": wrapped.blob,
        "dek_version": key.version,
        "sealed": _encode(sealed),
        "field_meta": {},  # per-field verification stamps; absent = verified at created_at
        "status": "active",
        "row_version": 1,
        "created_at": now,
        "updated_at": now,
        "index_version": index.version,
    }
    index_rows = [
        {"field": name, "digest": index.digest(name, values[name]), "customer_id": cid, "key_version": index.version}
        for name in catalogue.searchable
        if name != "customer_ref" and name in values
    ]
    return SealedCustomer(row, index_rows, flag_rows(catalogue, cid, values, now))


def customer_key(keyring: Keyring, row: CustomerRow) -> CustomerKey:
    """Unwrap a stored customer's DEK."""
    assert row.wrapped_dek is not None and row.kek_version is not None
    return keyring.cipher.customer_key(row.id, WrappedKey(row.kek_version, row.wrapped_dek), row.dek_version)


def open_fields(key: CustomerKey, sealed: bytes, names: set[str] | None = None) -> dict[str, str]:
    """Decrypt the fields in ``names`` (all when None) that the record holds."""
    blobs = _decode(sealed)
    return {n: key.open(n, b) for n, b in blobs.items() if names is None or n in names}


def open_many(cipher: FieldCipher, rows: Iterable[tuple[str, str, bytes, int, bytes]],
              names: Collection[str]) -> Iterator[dict[str, str]]:
    """Decrypt ``names`` of many stored records: (id as 32 hex digits, KEK version, wrapped DEK, DEK version,
    sealed) each."""
    return cipher.open_many(((hex_id, WrappedKey(kek, wrapped), version, _decode(sealed))
                             for hex_id, kek, wrapped, version, sealed in rows), names)


def reseal(key: CustomerKey, sealed: bytes, changes: dict[str, str | None]) -> bytes:
    """Apply ``changes`` (None removes a field) to a sealed record."""
    blobs = _decode(sealed)
    for name, value in changes.items():
        if value is None:
            blobs.pop(name, None)
        else:
            blobs[name] = key.seal(name, value)
    return _encode(blobs)


def sealed_field_names(sealed: bytes) -> list[str]:
    """Names of the fields a record holds (no decryption)."""
    return list(_decode(sealed))
