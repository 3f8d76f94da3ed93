"""Key-encryption-key (KEK) providers (the key file's format: :mod:`vault.crypto.key_file`).

The KEK never sits in the database. A provider wraps and unwraps small keys
(per-customer DEKs, the blind-index key, signing keys) and knows which KEK
version is current. The local providers keep the KEK in memory and wrap with
AES-256-GCM; an HSM or cloud KMS provider implements the same three methods
and performs wrap/unwrap remotely (see docs/operations.md).
"""

from __future__ import annotations

import base64
import binascii
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.crypto.errors import DecryptionError, KeyFileError, KeyUnavailableError
from vault.crypto.key_file import (
    KEY_FILE_FORMAT,
    add_key_file_version,
    generate_key_file,
    next_version,
    read_key_file,
    remove_key_file_version,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

# The key file's helpers stay importable from here (callers of the providers create and read key files too).
__all__ = ["KEY_FILE_FORMAT", "FileKeyProvider", "KeyProvider", "LayeredKeyProvider", "LocalKeyProvider",
           "WrappedKey", "add_key_file_version", "generate_key_file", "load_env_keys", "load_key_file",
           "next_version", "read_key_file", "remove_key_file_version"]

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

    def unwrap_many(self, items: Sequence[tuple[str, bytes, str]]) -> list[bytes]:
        """Unwrap many (KEK version, wrapped blob, label) triples (bulk reads); same errors as :meth:`unwrap`.

        The default unwraps one by one; a local provider overrides it with a loop that builds nothing per key.
        """
        return [self.unwrap(WrappedKey(version, blob), label=label) for version, blob, label in items]

    def wrap_many(self, keys: Sequence[bytes], labels: Sequence[str]) -> tuple[str, list[bytes]]:
        """Wrap many keys under the current KEK (bulk import): the KEK version and each wrapped blob.

        The default wraps one by one; a local provider overrides it with one random draw per batch.
        """
        wrapped = [self.wrap(key, label=label) for key, label in zip(keys, labels, strict=True)]
        version = wrapped[0].kek_version if wrapped else self.current_version
        if any(w.kek_version != version for w in wrapped):  # the current version moved mid-batch: redo
            return self.wrap_many(keys, labels)
        return version, [w.blob for w in wrapped]

    def rewrap(self, wrapped: WrappedKey, *, label: str) -> WrappedKey:
        """Re-wrap under the current KEK version (key rotation); the key itself never changes.

        A provider that can do this inside its boundary (an HSM's C_UnwrapKey/C_WrapKey, a
        cloud KMS's ReEncrypt) overrides it so the plaintext key never reaches the process.
        """
        return self.wrap(self.unwrap(wrapped, label=label), label=label)

    def rewrap_many(self, items: Sequence[tuple[WrappedKey, str]]) -> list[WrappedKey]:
        """:meth:`rewrap` of many (wrapped key, label) pairs: a rotation batch. Providers override it with a
        batch path; the default rewraps one by one (inside the provider's boundary, as :meth:`rewrap`)."""
        return [self.rewrap(wrapped, label=label) for wrapped, label in items]

    def add_version(self) -> str:
        """Create a new KEK version and make it current; returns its name.

        Raises:
            KeyUnavailableError: the provider cannot create versions (e.g. keys given in an env var).
        """
        raise KeyUnavailableError(f"{type(self).__name__} cannot create KEK versions; rotate at the key's source")

    def remove_version(self, version: str) -> None:
        """Destroy a KEK version (the caller has checked that nothing is wrapped under it).

        Raises:
            KeyUnavailableError: the provider cannot remove versions, or ``version`` is current.
        """
        raise KeyUnavailableError(f"{type(self).__name__} cannot remove KEK versions; remove it at the key's source")

    def refresh(self) -> None:
        """Reload versions from the key's source (another process may have rotated it); no-op by default."""
        return


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

    def wrap_many(self, keys: Sequence[bytes], labels: Sequence[str]) -> tuple[str, list[bytes]]:
        version = self._current
        encrypt = self._aead[version].encrypt
        nonces = os.urandom(_NONCE * len(keys))
        prefix = f"vault.kek|{version}|"
        out = []
        for i, (key, label) in enumerate(zip(keys, labels, strict=True)):
            nonce = nonces[i * _NONCE:(i + 1) * _NONCE]
            out.append(nonce + encrypt(nonce, key, (prefix + label).encode()))
        return version, out

    def unwrap(self, wrapped: WrappedKey, *, label: str) -> bytes:
        aead = self._aead.get(wrapped.kek_version)
        if aead is None:
            raise KeyUnavailableError(f"KEK version {wrapped.kek_version!r} is not available")
        blob = wrapped.blob
        try:
            return aead.decrypt(blob[:_NONCE], blob[_NONCE:], _wrap_aad(wrapped.kek_version, label))
        except InvalidTag as exc:
            raise DecryptionError(f"wrapped key {label!r} failed to unwrap under KEK {wrapped.kek_version}") from exc


    def unwrap_many(self, items: Sequence[tuple[str, bytes, str]]) -> list[bytes]:
        aeads = self._aead
        prefixes: dict[str, tuple[bytes, Any]] = {}
        out: list[bytes] = []
        for version, blob, label in items:
            known = prefixes.get(version)
            if known is None:
                aead = aeads.get(version)
                if aead is None:
                    raise KeyUnavailableError(f"KEK version {version!r} is not available")
                known = prefixes[version] = (f"vault.kek|{version}|".encode(), aead.decrypt)
            prefix, decrypt = known
            try:
                out.append(decrypt(blob[:_NONCE], blob[_NONCE:], prefix + label.encode()))
            except InvalidTag as exc:
                raise DecryptionError(f"wrapped key {label!r} failed to unwrap under KEK {version}") from exc
        return out

    def rewrap_many(self, items: Sequence[tuple[WrappedKey, str]]) -> list[WrappedKey]:
        """Batch rewrap: one ``os.urandom`` call for every nonce, the AEADs and associated-data prefixes looked up
        once; same associated data, labels and errors as :meth:`unwrap` and :meth:`wrap`."""
        current, aeads = self._current, self._aead
        new = aeads[current]
        new_prefix = f"vault.kek|{current}|".encode()
        nonces = os.urandom(_NONCE * len(items))
        old_prefixes: dict[str, bytes] = {}
        out: list[WrappedKey] = []
        for i, (wrapped, label) in enumerate(items):
            version = wrapped.kek_version
            aead = aeads.get(version)
            if aead is None:
                raise KeyUnavailableError(f"KEK version {version!r} is not available")
            prefix = old_prefixes.get(version)
            if prefix is None:
                prefix = old_prefixes[version] = f"vault.kek|{version}|".encode()
            blob, tail = wrapped.blob, label.encode()
            try:
                key = aead.decrypt(blob[:_NONCE], blob[_NONCE:], prefix + tail)
            except InvalidTag as exc:
                raise DecryptionError(f"wrapped key {label!r} failed to unwrap under KEK {version}") from exc
            nonce = nonces[i * _NONCE:(i + 1) * _NONCE]
            out.append(WrappedKey(current, nonce + new.encrypt(nonce, key, new_prefix + tail)))
        return out


class FileKeyProvider(LocalKeyProvider):
    """The key file's KEK versions, reloaded when the file changes.

    ``vault keys rotate`` adds a version to the file while API workers keep running: a
    worker meeting a DEK wrapped under a version it has not loaded re-reads the file, and
    before each wrap it checks (one ``stat``) whether the current version moved on, so new
    customers are wrapped under the new version without a restart.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp = (-1, -1)
        keys, current = self._read()
        super().__init__(keys, current)

    def __reduce__(self) -> tuple[type[LocalKeyProvider], tuple[dict[str, bytes], str]]:
        return (LocalKeyProvider, (self._keys, self._current))

    @property
    def path(self) -> Path:
        """The key file."""
        return self._path

    def _read(self) -> tuple[dict[str, bytes], str]:
        try:
            st = self._path.stat()
        except FileNotFoundError as exc:
            raise KeyFileError(f"key file {self._path} not found; run `vault init` first") from exc
        keys, current = read_key_file(self._path)
        self._stamp = (st.st_mtime_ns, st.st_size)
        return keys, current

    def refresh(self) -> None:
        keys, current = self._read()
        LocalKeyProvider.__init__(self, keys, current)

    def _changed(self) -> bool:
        try:
            st = self._path.stat()
        except OSError:
            return False
        return (st.st_mtime_ns, st.st_size) != self._stamp

    def wrap(self, key: bytes, *, label: str) -> WrappedKey:
        if self._changed():
            self.refresh()
        return super().wrap(key, label=label)

    def wrap_many(self, keys: Sequence[bytes], labels: Sequence[str]) -> tuple[str, list[bytes]]:
        if self._changed():
            self.refresh()
        return super().wrap_many(keys, labels)

    def unwrap(self, wrapped: WrappedKey, *, label: str) -> bytes:
        if wrapped.kek_version not in self._aead and self._changed():
            self.refresh()
        return super().unwrap(wrapped, label=label)

    def unwrap_many(self, items: Sequence[tuple[str, bytes, str]]) -> list[bytes]:
        if any(version not in self._aead for version, _, _ in items) and self._changed():
            self.refresh()  # one stat per batch, and only when a version is unknown (as unwrap)
        return super().unwrap_many(items)

    def rewrap_many(self, items: Sequence[tuple[WrappedKey, str]]) -> list[WrappedKey]:
        if self._changed() or any(w.kek_version not in self._aead for w, _ in items):
            self.refresh()  # one stat per batch, not per key
        return super().rewrap_many(items)

    def add_version(self) -> str:
        version = add_key_file_version(self._path)
        self.refresh()
        return version

    def remove_version(self, version: str) -> None:
        remove_key_file_version(self._path, version)
        self.refresh()


class LayeredKeyProvider(KeyProvider):
    """A new provider in front of a legacy one, for moving KEKs (e.g. from a key file into an HSM).

    New wraps use ``primary``; unwraps use whichever provider holds the version. ``vault keys
    rotate --resume`` then rewraps everything under the primary, after which the legacy versions
    are retired and the legacy provider is no longer configured. Version names must not overlap
    (the PKCS#11 provider names its versions ``hsm-v<n>``).
    """

    def __init__(self, primary: KeyProvider, legacy: KeyProvider) -> None:
        overlap = set(primary.versions()) & set(legacy.versions())
        if overlap:
            raise KeyUnavailableError(f"KEK versions {sorted(overlap)} exist in both providers")
        self.primary = primary
        self.legacy = legacy

    @property
    def current_version(self) -> str:
        return self.primary.current_version

    def versions(self) -> tuple[str, ...]:
        return (*self.legacy.versions(), *self.primary.versions())

    def _holder(self, version: str) -> KeyProvider:
        return self.legacy if version in self.legacy.versions() else self.primary

    def wrap(self, key: bytes, *, label: str) -> WrappedKey:
        return self.primary.wrap(key, label=label)

    def wrap_many(self, keys: Sequence[bytes], labels: Sequence[str]) -> tuple[str, list[bytes]]:
        return self.primary.wrap_many(keys, labels)

    def unwrap(self, wrapped: WrappedKey, *, label: str) -> bytes:
        return self._holder(wrapped.kek_version).unwrap(wrapped, label=label)

    def add_version(self) -> str:
        return self.primary.add_version()

    def remove_version(self, version: str) -> None:
        self._holder(version).remove_version(version)

    def refresh(self) -> None:
        self.primary.refresh()
        self.legacy.refresh()


def _wrap_aad(version: str, label: str) -> bytes:
    return f"vault.kek|{version}|{label}".encode()


def load_key_file(path: Path) -> FileKeyProvider:
    """Load a key file written by :func:`generate_key_file` (or rotated since)."""
    return FileKeyProvider(path)


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
