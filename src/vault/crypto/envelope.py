"""Envelope encryption of customer fields under per-customer data keys (DEKs).

Each field is sealed with AES-256-GCM under the customer's DEK. The associated
data binds the ciphertext to (customer id, field name, key version), so a
ciphertext copied to another customer or field fails to decrypt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.crypto.errors import DecryptionError

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
    from uuid import UUID

    from vault.crypto.keys import KeyProvider, WrappedKey

_NONCE = 12
_FORMAT = b"\x01"


def field_aad(customer_id: UUID, field: str, key_version: int) -> bytes:
    """Associated data binding a field ciphertext to its place."""
    return f"{customer_id.hex}|{field}|{key_version}".encode()


def dek_label(customer_id: UUID) -> str:
    """Label bound into a wrapped DEK, so a DEK cannot be moved to another customer."""
    return f"dek:{customer_id.hex}"


@dataclass(frozen=True, slots=True)
class CustomerKey:
    """An unwrapped DEK ready to seal and open one customer's fields."""

    customer_id: UUID
    version: int
    aead: AESGCM

    def seal(self, field: str, plaintext: str) -> bytes:
        """Encrypt one field value; returns format || nonce || ciphertext || tag."""
        nonce = os.urandom(_NONCE)
        aad = field_aad(self.customer_id, field, self.version)
        return _FORMAT + nonce + self.aead.encrypt(nonce, plaintext.encode(), aad)

    def open(self, field: str, blob: bytes) -> str:
        """Decrypt one field value.

        Raises:
            DecryptionError: if the blob was tampered with, or belongs to another field or customer.
        """
        if len(blob) < 1 + _NONCE + 16 or blob[:1] != _FORMAT:
            raise DecryptionError(f"field {field!r} of customer {self.customer_id} has a malformed ciphertext")
        aad = field_aad(self.customer_id, field, self.version)
        try:
            return self.aead.decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], aad).decode()
        except InvalidTag as exc:
            raise DecryptionError(
                f"field {field!r} of customer {self.customer_id} failed authentication "
                "(tampered, moved from another field/customer, or wrong key)"
            ) from exc


class FieldCipher:
    """Creates, wraps and unwraps per-customer DEKs through a :class:`KeyProvider`."""

    def __init__(self, keys: KeyProvider) -> None:
        self._keys = keys

    @property
    def keys(self) -> KeyProvider:
        """The KEK provider in use."""
        return self._keys

    def new_customer_key(self, customer_id: UUID, version: int = 1) -> tuple[CustomerKey, WrappedKey]:
        """Generate a fresh DEK for a customer and wrap it under the current KEK."""
        dek = AESGCM.generate_key(bit_length=256)
        wrapped = self._keys.wrap(dek, label=dek_label(customer_id))
        return CustomerKey(customer_id, version, AESGCM(dek)), wrapped

    def seal_new_many(self, hex_ids: Sequence[str], records: Sequence[Mapping[str, str]],
                      version: int = 1) -> tuple[str, list[bytes], list[dict[str, bytes]]]:
        """Fresh DEKs for many new customers, wrapped under the current KEK, and their fields sealed (bulk import).

        ``hex_ids`` are the customers' ids as 32 hex digits, ``records`` their values by field. Same
        formats, AAD and labels as :meth:`new_customer_key` and :meth:`CustomerKey.seal`; the random
        bytes for every DEK and nonce of the batch come from one ``os.urandom`` call.

        Returns:
            (KEK version, wrapped DEK blob per customer, {field: sealed blob} per customer).
        """
        n_fields = sum(len(r) for r in records)
        pool = os.urandom(32 * len(records) + _NONCE * n_fields)
        deks = [pool[i * 32:(i + 1) * 32] for i in range(len(records))]
        kek_version, wrapped = self._keys.wrap_many(deks, [f"dek:{h}" for h in hex_ids])
        at = 32 * len(records)
        suffix = f"|{version}".encode()
        sealed: list[dict[str, bytes]] = []
        for hex_id, dek, values in zip(hex_ids, deks, records, strict=True):
            encrypt = AESGCM(dek).encrypt
            prefix = f"{hex_id}|".encode()
            blobs: dict[str, bytes] = {}
            for name, value in values.items():
                nonce = pool[at:at + _NONCE]
                at += _NONCE
                blobs[name] = _FORMAT + nonce + encrypt(nonce, value.encode(), prefix + name.encode() + suffix)
            sealed.append(blobs)
        return kek_version, wrapped, sealed

    def customer_key(self, customer_id: UUID, wrapped: WrappedKey, version: int) -> CustomerKey:
        """Unwrap a stored DEK."""
        dek = self._keys.unwrap(wrapped, label=dek_label(customer_id))
        return CustomerKey(customer_id, version, AESGCM(dek))

    def rewrap(self, customer_id: UUID, wrapped: WrappedKey) -> WrappedKey:
        """Re-wrap a DEK under the current KEK version (key rotation)."""
        return self._keys.rewrap(wrapped, label=dek_label(customer_id))

    def open_rows(self, rows: Sequence[tuple[str, str, bytes, int, Mapping[str, bytes]]],
                  fields: Collection[str]) -> list[dict[str, str]]:
        """Unwrap the DEKs of many stored records in one provider call and open their ``fields`` (contact pages).

        Each row is (customer id as 32 hex digits, KEK version, wrapped DEK blob, DEK version, sealed blobs by
        field name); fields a record does not hold are absent from its dict. Same AAD and labels as
        :class:`CustomerKey`.

        Raises:
            DecryptionError: a tampered, moved or malformed ciphertext (naming customer and field, no value).
            KeyUnavailableError: a KEK version the provider does not hold.
        """
        deks = self._keys.unwrap_many([(kek, wrapped, "dek:" + hex_id) for hex_id, kek, wrapped, _, _ in rows])
        names = [(name, f"|{name}|".encode()) for name in fields]
        versions: dict[int, bytes] = {}
        out: list[dict[str, str]] = []
        for (hex_id, _, _, version, blobs), dek in zip(rows, deks, strict=True):
            decrypt = AESGCM(dek).decrypt
            suffix = versions.get(version)
            if suffix is None:
                suffix = versions[version] = str(version).encode()
            head = hex_id.encode()
            values: dict[str, str] = {}
            for name, middle in names:
                blob = blobs.get(name)
                if blob is not None:
                    values[name] = _open_blob(decrypt, hex_id, name, blob, head + middle + suffix)
            out.append(values)
        return out

    def open_many(self, records: Iterable[tuple[str, WrappedKey, int, Mapping[str, bytes]]],
                  fields: Collection[str]) -> Iterator[dict[str, str]]:
        """Unwrap each record's DEK and open its ``fields`` (batch path for extracts: no per-field objects).

        Each record is (customer id as 32 hex digits, wrapped DEK, DEK version, sealed blobs by field name);
        fields a record does not hold are absent from its dict. Same AAD and labels as :class:`CustomerKey`.

        Raises:
            DecryptionError: a tampered, moved or malformed ciphertext (naming customer and field, no value).
        """
        unwrap = self._keys.unwrap
        names = tuple(fields)
        tails = {name: f"|{name}|".encode() for name in names}  # AAD: id|name|version, built from parts
        for hex_id, wrapped, version, blobs in records:
            decrypt = AESGCM(unwrap(wrapped, label=f"dek:{hex_id}")).decrypt
            head, stamp = hex_id.encode(), str(version).encode()
            out: dict[str, str] = {}
            for name in names:
                blob = blobs.get(name)
                if blob is not None:
                    out[name] = _open_blob(decrypt, hex_id, name, blob, head + tails[name] + stamp)
            yield out


def _open_blob(decrypt: Callable[[bytes, bytes, bytes], bytes], hex_id: str, name: str, blob: bytes,
               aad: bytes) -> str:
    """One field's plaintext from its sealed blob (format byte, nonce, ciphertext and tag) on the batch paths.

    Raises:
        DecryptionError: a malformed, tampered or moved ciphertext (naming customer and field, no value).
    """
    if len(blob) < 1 + _NONCE + 16 or blob[:1] != _FORMAT:
        raise DecryptionError(f"field {name!r} of customer {hex_id} has a malformed ciphertext")
    try:
        return decrypt(blob[1:1 + _NONCE], blob[1 + _NONCE:], aad).decode()
    except InvalidTag as exc:
        raise DecryptionError(f"field {name!r} of customer {hex_id} failed authentication "
                              "(tampered, moved from another field/customer, or wrong key)") from exc
