"""The keyring: every cryptographic collaborator a request needs, built once per process.

The system keys it holds are stored wrapped under the KEK by :mod:`vault.keys.store`
(``vault.crypto`` knows keys, not tables).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vault.crypto.blind_index import BlindIndexer
from vault.crypto.envelope import FieldCipher
from vault.crypto.pseudonym import Pseudonymizer
from vault.crypto.signing import Signer

if TYPE_CHECKING:
    from vault.crypto.keys import KeyProvider

SYSTEM_KEYS = ("blind_index", "pseudonym", "audit_signing", "receipt_signing")


@dataclass(frozen=True)
class Keyring:
    """Everything cryptographic a request needs, built once per process."""

    provider: KeyProvider
    cipher: FieldCipher
    index: BlindIndexer
    pseudonyms: Pseudonymizer
    audit_signer: Signer
    receipt_signer: Signer
    #: Every blind-index key version not yet retired, newest first (``indexes[0] is index``). During an
    #: index-key rotation lookups try each, so a customer is found whether or not it was rebuilt yet.
    indexes: tuple[BlindIndexer, ...] = ()

    def index_digests(self, field: str, normalized: str) -> list[bytes]:
        """The digest of a value under every live index key version (for lookups)."""
        return [ix.digest(field, normalized) for ix in (self.indexes or (self.index,))]
