"""Ed25519 signatures for audit checkpoints and consent receipts."""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from vault.crypto.errors import DecryptionError


class SignatureError(DecryptionError):
    """A signature did not verify."""

    code = "crypto.bad_signature"
    title = "Bad signature"


class Signer:
    """Signs with an Ed25519 private key given as its 32-byte seed."""

    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = hashlib.sha256(self.public_key).hexdigest()[:16]

    def sign(self, message: bytes) -> bytes:
        """Sign ``message``."""
        return self._key.sign(message)

    def public_pem(self) -> str:
        """The public key in PEM, for export outside the database."""
        pub = Ed25519PublicKey.from_public_bytes(self.public_key)
        return pub.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Verify an Ed25519 signature.

    Raises:
        SignatureError: if it does not verify.
    """
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureError("signature does not verify") from exc


def b64u(data: bytes) -> str:
    """URL-safe base64 without padding (JWS style)."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64u_decode(text: str) -> bytes:
    """Inverse of :func:`b64u`."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
