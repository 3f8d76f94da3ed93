"""All cryptography of the vault: KEK providers, envelopes, blind indexes, pseudonyms, signatures.

No other package imports ``cryptography``.
"""

from vault.crypto.blind_index import BlindIndexer
from vault.crypto.envelope import CustomerKey, FieldCipher
from vault.crypto.errors import DecryptionError, KeyFileError, KeyUnavailableError
from vault.crypto.keyring import Keyring
from vault.crypto.keys import (
    KeyProvider,
    LocalKeyProvider,
    WrappedKey,
    generate_key_file,
    load_env_keys,
    load_key_file,
)
from vault.crypto.pseudonym import Pseudonymizer
from vault.crypto.signing import SignatureError, Signer, verify

__all__ = [
    "BlindIndexer",
    "CustomerKey",
    "DecryptionError",
    "FieldCipher",
    "KeyFileError",
    "KeyProvider",
    "KeyUnavailableError",
    "Keyring",
    "LocalKeyProvider",
    "Pseudonymizer",
    "SignatureError",
    "Signer",
    "WrappedKey",
    "generate_key_file",
    "load_env_keys",
    "load_key_file",
    "verify",
]
