"""All cryptography of the vault: KEK providers, envelopes, blind indexes, pseudonyms, signatures.

No other package imports ``cryptography``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.lib.lazy import lazy_exports

if TYPE_CHECKING:
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

# name -> module: each is imported on first use (PEP 562), so importing one submodule does not
# import the whole package (command start, tests/bench/test_cli_start_bench.py).
_EXPORTS = {
    "BlindIndexer": "vault.crypto.blind_index",
    "CustomerKey": "vault.crypto.envelope",
    "FieldCipher": "vault.crypto.envelope",
    "DecryptionError": "vault.crypto.errors",
    "KeyFileError": "vault.crypto.errors",
    "KeyUnavailableError": "vault.crypto.errors",
    "Keyring": "vault.crypto.keyring",
    "KeyProvider": "vault.crypto.keys",
    "LocalKeyProvider": "vault.crypto.keys",
    "WrappedKey": "vault.crypto.keys",
    "generate_key_file": "vault.crypto.keys",
    "load_env_keys": "vault.crypto.keys",
    "load_key_file": "vault.crypto.keys",
    "Pseudonymizer": "vault.crypto.pseudonym",
    "SignatureError": "vault.crypto.signing",
    "Signer": "vault.crypto.signing",
    "verify": "vault.crypto.signing",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


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
