"""Verifying a consent receipt: its Ed25519 signature, and that every decision it lists is in the ledger."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from vault.consent.models import ConsentEventRow
from vault.crypto.jws import MalformedTokenError, verify_compact
from vault.crypto.signing import SignatureError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.crypto.keyring import Keyring


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
