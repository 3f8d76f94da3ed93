"""Keys of the statutory archive: a separate key per archived record, wrapped in its own KEK context.

Data kept only because a law requires it (statutes.yaml ``retention_days``) leaves the customer
record for the archive. Each archive record gets a fresh DEK wrapped under the KEK with the label
``archive:<record id>`` (never ``dek:<customer id>``): the customer's key cannot open it, it cannot
be moved to another record, and destroying the record's wrapped key shreds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.crypto.envelope import CustomerKey

if TYPE_CHECKING:
    from uuid import UUID

    from vault.crypto.keys import KeyProvider, WrappedKey


def archive_label(record_id: UUID) -> str:
    """The KEK context an archive record's key is wrapped under."""
    return f"archive:{record_id.hex}"


def new_archive_key(keys: KeyProvider, record_id: UUID) -> tuple[CustomerKey, WrappedKey]:
    """A fresh key for one archive record (fields sealed with AAD bound to the record id)."""
    dek = AESGCM.generate_key(bit_length=256)
    return CustomerKey(record_id, 1, AESGCM(dek)), keys.wrap(dek, label=archive_label(record_id))


def archive_key(keys: KeyProvider, record_id: UUID, wrapped: WrappedKey) -> CustomerKey:
    """Unwrap an archive record's key."""
    return CustomerKey(record_id, 1, AESGCM(keys.unwrap(wrapped, label=archive_label(record_id))))
