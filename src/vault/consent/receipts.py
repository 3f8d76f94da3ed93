"""Signed consent receipts (compact JWS, EdDSA) and the naming of sealed collection evidence."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from vault.consent.views import Receipt
from vault.crypto.jws import public_jwk, sign_compact
from vault.lib.ids import new_id

if TYPE_CHECKING:
    from datetime import datetime

    from vault.crypto.signing import Signer
    from vault.policy.purposes import Controller

RECEIPT_TYPE = "consent-receipt+jwt"
EVIDENCE_IP = "consent.evidence.ip"
EVIDENCE_UA = "consent.evidence.user_agent"


def evidence_field(name: str, event_id: uuid.UUID) -> str:
    """The sealed field name of one event's evidence: binds the ciphertext to the event as well."""
    return f"{name}/{event_id.hex}"


def sign_receipt(signer: Signer, controller: Controller, customer_id: uuid.UUID, events: list[dict[str, Any]],
                 now: datetime) -> Receipt:
    """One receipt over every decision of a request, signed with the receipt key."""
    receipt_id = new_id()
    payload = {
        "iss": controller.name,
        "sub": str(customer_id),
        "jti": str(receipt_id),
        "iat": int(now.timestamp()),
        "controller": {"name": controller.name, "contact": controller.contact},
        "consents": [
            {"event_id": str(e["id"]), "purpose": e["purpose"], "channel": e["channel"] or None,
             "decision": e["kind"], "notice_version": e["notice_version"], "notice_sha256": e["notice_hash"],
             "collected_at": e["occurred_at"].isoformat(), "source": e["source"]}
            for e in events
        ],
    }
    jws = sign_compact(signer, payload, typ=RECEIPT_TYPE)
    return Receipt(receipt_id, customer_id, now, signer.key_id, jws)


def receipt_key(signer: Signer) -> dict[str, Any]:
    """The receipt-signing public key (PEM and JWK): receipts verify offline against it."""
    return {"kid": signer.key_id, "alg": "EdDSA", "public_key_pem": signer.public_pem(),
            "jwk": public_jwk(signer.public_key, signer.key_id)}
