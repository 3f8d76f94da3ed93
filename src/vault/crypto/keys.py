"""Key-encryption-key (KEK) providers.

The KEK never sits in the database. A provider wraps and unwraps small keys
(per-customer DEKs, the blind-index key, signing keys) and knows which KEK
version is current. The local providers keep the KEK in memory and wrap with
AES-256-GCM; an HSM or cloud KMS provider implements the same three methods
and performs wrap/unwrap remotely (see docs/operations.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.crypto.errors import DecryptionError, KeyFileError, KeyUnavailableError
from vault.lib.clock import utcnow

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

KEY_FILE_FORMAT = "customer-vault-kek/1"
_NONCE = 12


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A key wrapped under a KEK version; ``blob`` is nonce || ciphertext || tag."""

    kek_version: str
    blob: bytes


class KeyProvider(ABC):
    """Wraps and unwraps keys under a versioned key-encryption key."""

    @property
    @abstractmethod
    def current_version(self) -> str:
        """The KEK version new wraps use."""

    @abstractmethod
    def versions(self) -> tuple[str, ...]:
        """Every KEK version this provider can unwrap with."""

    @abstractmethod
    def wrap(self, key: bytes, *, label: str) -> WrappedKey:
        """Wrap ``key`` under the current KEK; ``label`` is bound as associated data."""

    @abstractmethod
    def unwrap(self, wrapped: WrappedKey, *, label: str) -> bytes:
        """Unwrap; raises DecryptionError if the blob or label does not match."""


class LocalKeyProvider(KeyProvider):
    """KEK versions held in process memory (loaded from a file or an env var)."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise KeyUnavailableError(f"current KEK version {current!r} is not among the loaded keys")
        for version, key in keys.items():
            if len(key) != 32:
                raise KeyFileError(f"KEK version {version!r} must be 32 bytes, got {len(key)}")
        self._keys = dict(keys)
        self._aead = {version: AESGCM(key) for version, key in keys.items()}
        self._current = current

    def __reduce__(self) -> tuple[type[LocalKeyProvider], tuple[dict[str, bytes], str]]:
        # Picklable for the bulk importer's local sealing worker processes (never written anywhere).
        return (LocalKeyProvider, (self._keys, self._current))

    @property
    def current_version(self) -> str:
        return self._current

    def versions(self) -> tuple[str, ...]:
        return tuple(self._aead)

    def wrap(self, key: bytes, *, label: str) -> WrappedKey:
        nonce = os.urandom(_NONCE)
        aad = _wrap_aad(self._current, label)
        return WrappedKey(self._current, nonce + self._aead[self._current].encrypt(nonce, key, aad))

    def unwrap(self, wrapped: WrappedKey, *, label: str) -> bytes:
        aead = self._aead.get(wrapped.kek_version)
        if aead is None:
            raise KeyUnavailableError(f"KEK version {wrapped.kek_version!r} is not available")
        blob = wrapped.blob
        try:
            return aead.decrypt(blob[:_NONCE], blob[_NONCE:], _wrap_aad(wrapped.kek_version, label))
        except InvalidTag as exc:
            raise DecryptionError(f"wrapped key {label!r} failed to unwrap under KEK {wrapped.kek_version}") from exc


def _wrap_aad(version: str, label: str) -> bytes:
    return f"vault.kek|{version}|{label}".encode()


def generate_key_file(path: Path) -> None:
    """Create a new key file with one random KEK version, mode 0600.

    Raises:
        KeyFileError: if the file already exists (keys are never overwritten).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    doc = {
        "format": KEY_FILE_FORMAT,
        "current": "v1",
        "keys": {"v1": base64.b64encode(os.urandom(32)).decode()},
        "created_at": utcnow().isoformat(),
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"key file {path} already exists; refusing to overwrite keys") from exc
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")


def load_key_file(path: Path) -> LocalKeyProvider:
    """Load a key file written by :func:`generate_key_file` (or rotated since)."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise KeyFileError(f"key file {path} not found; run `vault init` first") from exc
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"key file {path} is unreadable or not JSON") from exc
    if not isinstance(doc, dict) or doc.get("format") != KEY_FILE_FORMAT:
        raise KeyFileError(f"key file {path} is not a {KEY_FILE_FORMAT} file")
    try:
        keys = {str(v): base64.b64decode(k, validate=True) for v, k in doc["keys"].items()}
        return LocalKeyProvider(keys, str(doc["current"]))
    except (KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise KeyFileError(f"key file {path} has malformed keys") from exc


def load_env_keys(value: str | None, *, var: str) -> LocalKeyProvider:
    """Load KEKs from ``version:base64[,version:base64...]``; the last entry is current."""
    if not value:
        raise KeyFileError(f"environment variable {var} is empty or unset")
    keys: dict[str, bytes] = {}
    current = ""
    for part in value.split(","):
        version, sep, b64 = part.strip().partition(":")
        if not sep:
            version, b64 = "env1", version
        try:
            keys[version] = base64.b64decode(b64, validate=True)
        except binascii.Error as exc:
            raise KeyFileError(f"{var}: KEK {version!r} is not valid base64") from exc
        current = version
    return LocalKeyProvider(keys, current)
