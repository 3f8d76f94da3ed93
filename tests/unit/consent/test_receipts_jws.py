"""Compact JWS receipts: they verify, and any modification or foreign key fails."""

from __future__ import annotations

import json
import os

import pytest

from vault.crypto.jws import (
    MalformedTokenError,
    decode_unverified,
    public_jwk,
    public_key_from_pem,
    sign_compact,
    verify_compact,
)
from vault.crypto.signing import SignatureError, Signer, b64u, b64u_decode

SIGNER = Signer(bytes(range(32)))
PAYLOAD = {"sub": "c1", "consents": [{"purpose": "marketing_email", "decision": "granted", "notice_sha256": "ab"}]}


def test_receipt_verifies_with_header_eddsa() -> None:
    token = sign_compact(SIGNER, PAYLOAD)
    header, payload = verify_compact(token, SIGNER.public_key)
    assert header == {"alg": "EdDSA", "typ": "JWT", "kid": SIGNER.key_id}
    assert payload == PAYLOAD


def test_modified_payload_fails() -> None:
    head, body, sig = sign_compact(SIGNER, PAYLOAD).split(".")
    doc = json.loads(b64u_decode(body))
    doc["consents"][0]["decision"] = "withdrawn"
    forged = f"{head}.{b64u(json.dumps(doc).encode())}.{sig}"
    with pytest.raises(SignatureError):
        verify_compact(forged, SIGNER.public_key)


def test_other_key_and_alg_none_fail() -> None:
    token = sign_compact(SIGNER, PAYLOAD)
    with pytest.raises(SignatureError):
        verify_compact(token, Signer(os.urandom(32)).public_key)
    _, body, _ = token.split(".")
    none = f"{b64u(json.dumps({'alg': 'none'}).encode())}.{body}."
    with pytest.raises(MalformedTokenError):
        verify_compact(none + "x", SIGNER.public_key)
    with pytest.raises(MalformedTokenError):
        decode_unverified("not-a-token")


def test_pem_and_jwk_export_round_trip() -> None:
    assert public_key_from_pem(SIGNER.public_pem()) == SIGNER.public_key
    jwk = public_jwk(SIGNER.public_key, SIGNER.key_id)
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and b64u_decode(jwk["x"]) == SIGNER.public_key
    with pytest.raises(MalformedTokenError):
        public_key_from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
