"""Crypto errors: callers never see ``cryptography``'s own exceptions."""

from __future__ import annotations

from vault.errors import ConfigurationError, VaultError


class DecryptionError(VaultError):
    """A ciphertext failed authentication: tampered, moved, or under the wrong key."""

    code = "crypto.decryption_failed"
    title = "Decryption failed"


class KeyUnavailableError(ConfigurationError):
    """A key version needed to unwrap is not known to the key provider."""

    code = "crypto.key_unavailable"
    title = "Key unavailable"


class KeyFileError(ConfigurationError):
    """The key file is missing, unreadable, malformed, or would be overwritten."""

    code = "crypto.key_file"
    title = "Key file error"
