"""Compact JWS (RFC 7515) with Ed25519 (``alg: EdDSA``, RFC 8037), for consent receipts.

Only this one algorithm is produced or accepted: a token whose header names any
other ``alg`` (``none``, ``HS256``, ...) is refused before any key is used.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from vault.crypto.signing import SignatureError, b64u, b64u_decode, verify

if TYPE_CHECKING:
    from vault.crypto.signing import Signer

ALG = "EdDSA"


class MalformedTokenError(SignatureError):
    """The text is not a compact JWS this vault could have issued."""

    code = "crypto.malformed_token"
    title = "Malformed token"


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_compact(signer: Signer, payload: dict[str, Any], *, typ: str = "JWT") -> str:
    """Sign ``payload`` as a compact JWS ``header.payload.signature``."""
    header = {"alg": ALG, "typ": typ, "kid": signer.key_id}
    signing_input = f"{b64u(_json(header))}.{b64u(_json(payload))}"
    return f"{signing_input}.{b64u(signer.sign(signing_input.encode()))}"


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS, without checking the signature.

    Raises:
        MalformedTokenError: not three base64url parts of JSON objects.
    """
    parts = token.strip().split(".")
    if len(parts) != 3 or not all(parts):
        raise MalformedTokenError("not a compact JWS (expected header.payload.signature)")
    try:
        header = json.loads(b64u_decode(parts[0]))
        payload = json.loads(b64u_decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedTokenError("JWS header or payload is not base64url-encoded JSON") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise MalformedTokenError("JWS header and payload must be JSON objects")
    return header, payload


def verify_compact(token: str, public_key: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a compact JWS against a raw Ed25519 public key; returns (header, payload).

    Raises:
        MalformedTokenError: the token is malformed or names another algorithm.
        SignatureError: the signature does not verify (modified token or other key).
    """
    header, payload = decode_unverified(token)
    if header.get("alg") != ALG:
        raise MalformedTokenError(f"unsupported JWS alg {header.get('alg')!r}; only {ALG} is accepted")
    head, body, sig = token.strip().split(".")
    try:
        signature = b64u_decode(sig)
    except ValueError as exc:
        raise MalformedTokenError("JWS signature is not base64url") from exc
    verify(public_key, f"{head}.{body}".encode(), signature)
    return header, payload


def public_key_from_pem(pem: str | bytes) -> bytes:
    """The raw 32-byte Ed25519 public key in a PEM (SubjectPublicKeyInfo) file.

    Raises:
        MalformedTokenError: not an Ed25519 public key.
    """
    try:
        key = load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except ValueError as exc:
        raise MalformedTokenError("not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise MalformedTokenError("the PEM key is not an Ed25519 public key")
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_jwk(public_key: bytes, kid: str) -> dict[str, str]:
    """The public key as a JWK (RFC 8037 OKP)."""
    return {"kty": "OKP", "crv": "Ed25519", "x": b64u(public_key), "kid": kid, "alg": ALG, "use": "sig"}
