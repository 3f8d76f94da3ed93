"""A KEK provider whose key-encryption keys live in a PKCS#11 token (HSM, SoftHSM2).

Each KEK version is a non-extractable AES-256 secret key object on the token labelled
``<prefix><version>`` with versions ``hsm-v1``, ``hsm-v2``, ... (labels ``vault-kek-hsm-v1``
...); the highest version is current. The ``hsm-`` names never collide with a key file's
``v<n>``, so both can be layered while moving keys (:class:`LayeredKeyProvider`).

Wrapping is AES-GCM performed *by the token* (``CKM_AES_GCM``) with the same associated
data as the local provider (``vault.kek|version|label``), so a wrapped DEK is bound to its
customer exactly as before and the KEK never leaves the token.

Moving an existing vault into an HSM: configure this provider with the old key file as
legacy (``VAULT_CRYPTO__LEGACY_KEK_FILE``), run ``vault keys rotate --resume`` (everything is
rewrapped under the token's key), then ``vault keys retire v1`` ... (docs/operations.md).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from vault.crypto.errors import DecryptionError, KeyUnavailableError
from vault.crypto.keys import KeyProvider, WrappedKey

if TYPE_CHECKING:
    from collections.abc import Iterator

_NONCE = 12
DEFAULT_PREFIX = "vault-kek-"
VERSION_PREFIX = "hsm-v"


def _number(version: str) -> int:
    return int(version[len(VERSION_PREFIX):])


def _aad(version: str, label: str) -> bytes:
    return f"vault.kek|{version}|{label}".encode()


class Pkcs11KeyProvider(KeyProvider):
    """KEK versions as AES keys on a PKCS#11 token; wrap/unwrap run inside the token."""

    def __init__(self, library: str, token_label: str, pin: str, *, prefix: str = DEFAULT_PREFIX,
                 create: bool = False) -> None:
        """Open a session on the token.

        Args:
            library: path of the PKCS#11 module (e.g. ``/usr/lib/softhsm/libsofthsm2.so``).
            token_label: label of the initialized token.
            pin: the user PIN.
            prefix: label prefix of the KEK objects.
            create: create version ``v1`` when the token holds no KEK yet (``vault init``).

        Raises:
            KeyUnavailableError: the module, token or keys cannot be used.
        """
        import pkcs11  # imported here: the module loads a native library

        self._p11 = pkcs11
        self._prefix = prefix
        self._lock = threading.Lock()
        try:
            self._lib = pkcs11.lib(library)
            token = self._lib.get_token(token_label=token_label)
            try:
                self._session = token.open(user_pin=pin, rw=True)
            except pkcs11.exceptions.UserAlreadyLoggedIn:
                # PKCS#11 logins are per process: another provider in this process already logged in.
                self._session = token.open(rw=True)
        except (pkcs11.PKCS11Error, RuntimeError, OSError) as exc:
            raise KeyUnavailableError(
                f"PKCS#11 token {token_label!r} via {library} is not usable: {type(exc).__name__}") from exc
        self._keys: dict[str, Any] = {}
        self._load()
        if not self._keys:
            if not create:
                raise KeyUnavailableError(f"PKCS#11 token {token_label!r} holds no key labelled {prefix}hsm-v<n>; "
                                          "run `vault init` to create one")
            self._generate(VERSION_PREFIX + "1")

    def _objects(self) -> Iterator[Any]:
        p11 = self._p11
        yield from self._session.get_objects({p11.Attribute.CLASS: p11.ObjectClass.SECRET_KEY})

    def _load(self) -> None:
        keys: dict[str, Any] = {}
        for obj in self._objects():
            label = obj.label or ""
            if label.startswith(self._prefix):
                version = label[len(self._prefix):]
                if version.startswith(VERSION_PREFIX) and version[len(VERSION_PREFIX):].isdigit():
                    keys[version] = obj
        self._keys = dict(sorted(keys.items(), key=lambda kv: _number(kv[0])))

    def _generate(self, version: str) -> None:
        p11 = self._p11
        self._session.generate_key(
            p11.KeyType.AES, 256, label=self._prefix + version, store=True,
            capabilities=p11.MechanismFlag.ENCRYPT | p11.MechanismFlag.DECRYPT,
            template={p11.Attribute.SENSITIVE: True, p11.Attribute.EXTRACTABLE: False},
        )
        self._load()

    @property
    def current_version(self) -> str:
        return next(reversed(self._keys))

    def versions(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def wrap(self, key: bytes, *, label: str) -> WrappedKey:
        version = self.current_version
        nonce = os.urandom(_NONCE)
        params = self._p11.GCMParams(nonce, _aad(version, label), 128)
        with self._lock:
            ct = self._keys[version].encrypt(key, mechanism=self._p11.Mechanism.AES_GCM, mechanism_param=params)
        return WrappedKey(version, nonce + bytes(ct))

    def unwrap(self, wrapped: WrappedKey, *, label: str) -> bytes:
        obj = self._keys.get(wrapped.kek_version)
        if obj is None:
            self.refresh()
            obj = self._keys.get(wrapped.kek_version)
        if obj is None:
            raise KeyUnavailableError(f"KEK version {wrapped.kek_version!r} is not on the token")
        blob = wrapped.blob
        params = self._p11.GCMParams(blob[:_NONCE], _aad(wrapped.kek_version, label), 128)
        try:
            with self._lock:
                return bytes(obj.decrypt(blob[_NONCE:], mechanism=self._p11.Mechanism.AES_GCM,
                                         mechanism_param=params))
        except self._p11.PKCS11Error as exc:
            raise DecryptionError(f"wrapped key {label!r} failed to unwrap under KEK {wrapped.kek_version}") from exc

    def add_version(self) -> str:
        with self._lock:
            self._load()
            version = f"{VERSION_PREFIX}{max(map(_number, self._keys), default=0) + 1}"
            self._generate(version)
        return version

    def remove_version(self, version: str) -> None:
        with self._lock:
            self._load()
            if version == self.current_version:
                raise KeyUnavailableError(f"KEK version {version!r} is current; rotate before retiring it")
            obj = self._keys.get(version)
            if obj is None:
                raise KeyUnavailableError(f"KEK version {version!r} is not on the token")
            obj.destroy()
            self._load()

    def refresh(self) -> None:
        with self._lock:
            self._load()

    def close(self) -> None:
        """Close the token session."""
        self._session.close()
