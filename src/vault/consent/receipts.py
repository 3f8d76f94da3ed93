"""Signed consent receipts (compact JWS, EdDSA), their verification against the key and the ledger, and the
naming of sealed collection evidence."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from vault.consent.models import ConsentEventRow
from vault.consent.views import Receipt
from vault.crypto.jws import MalformedTokenError, public_jwk, sign_compact, verify_compact
from vault.crypto.signing import SignatureError
from vault.lib.ids import new_id

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.crypto.keyring import Keyring
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


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    """The outcome of :func:`verify_receipt` (ids, purposes, versions and hashes: no personal data)."""

    signature_valid: bool
    matches_ledger: bool
    key_id: str | None
    receipt_id: str | None
    customer_id: str | None
    issued_at: int | None
    consents: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Signed by the vault's receipt key and every listed decision is recorded as stated."""
        return self.signature_valid and self.matches_ledger


async def verify_receipt(session: AsyncSession, keyring: Keyring, token: str) -> ReceiptCheck:
    """Check a receipt (compact JWS) against the receipt-signing key and the consent ledger."""
    signer = keyring.receipt_signer
    try:
        header, claims = verify_compact(token, signer.public_key)
    except MalformedTokenError as exc:
        return ReceiptCheck(False, False, None, None, None, None, problems=[f"malformed: {exc.detail}"])
    except SignatureError:
        return ReceiptCheck(False, False, None, None, None, None,
                            problems=["the signature does not verify under the vault's receipt key"])
    consents = [c for c in claims.get("consents", []) if isinstance(c, dict)]
    problems: list[str] = []
    ids = []
    for c in consents:
        try:
            ids.append(uuid.UUID(str(c.get("event_id"))))
        except ValueError:
            problems.append(f"event id {c.get('event_id')!r} is not a UUID")
    rows = {r.id: r for r in (await session.scalars(
        select(ConsentEventRow).where(ConsentEventRow.id.in_(ids)))).all()} if ids else {}
    for c in consents:
        try:
            row = rows.get(uuid.UUID(str(c.get("event_id"))))
        except ValueError:
            continue
        if row is None:
            problems.append(f"event {c.get('event_id')} is not in the ledger")
            continue
        expected = {"purpose": row.purpose, "decision": row.kind, "notice_version": row.notice_version,
                    "notice_sha256": row.notice_hash, "channel": row.channel or None}
        for key, want in expected.items():
            if c.get(key) != want:
                problems.append(f"event {row.id}: {key} is {c.get(key)!r} in the receipt, {want!r} in the ledger")
        if str(row.customer_id) != str(claims.get("sub")):
            problems.append(f"event {row.id} belongs to another customer")
        if row.receipt_id is not None and str(row.receipt_id) != str(claims.get("jti")):
            problems.append(f"event {row.id} was receipted under another receipt id")
    if not consents:
        problems.append("the receipt lists no decisions")
    return ReceiptCheck(True, not problems, str(header.get("kid")) if header.get("kid") else signer.key_id,
                        str(claims.get("jti")) if claims.get("jti") else None,
                        str(claims.get("sub")) if claims.get("sub") else None,
                        int(claims["iat"]) if isinstance(claims.get("iat"), int) else None, consents, problems)
