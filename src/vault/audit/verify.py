"""Chain verification and Ed25519-signed checkpoints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from vault.audit.entry import GENESIS, canonical_ts, entry_hash, subjects_digest
from vault.audit.models import AuditCheckpointRow, AuditEntryRow, AuditSubjectRow
from vault.crypto.signing import SignatureError, verify
from vault.lib.clock import utcnow

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.crypto.signing import Signer

_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of :func:`verify_chain`."""

    ok: bool
    entries: int
    checkpoints: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    reason: str | None = None


def checkpoint_message(seq: int, head_hash: str) -> bytes:
    """What a checkpoint signs."""
    return f"customer-vault-audit-checkpoint|{seq}|{head_hash}".encode()


async def verify_chain(session: AsyncSession, *, trusted_public_key: bytes | None = None) -> VerifyResult:
    """Recompute every hash, the bulk subject digests and every checkpoint signature.

    Args:
        session: an open session.
        trusted_public_key: if given, checkpoints must be signed by this key
            (exported earlier), not merely by the key stored beside them.
    """
    prev, last_seq, count = GENESIS, 0, 0
    hashes: dict[int, str] = {}
    while True:
        rows = (
            await session.execute(
                select(AuditEntryRow.__table__).where(AuditEntryRow.seq > last_seq)
                .order_by(AuditEntryRow.seq).limit(_CHUNK)
            )
        ).mappings().all()
        if not rows:
            break
        bulk = [r["seq"] for r in rows if r["subjects_digest"] is not None]
        subjects: dict[int, list[Any]] = {}
        if bulk:
            for seq, cid in (await session.execute(
                select(AuditSubjectRow.seq, AuditSubjectRow.customer_id).where(AuditSubjectRow.seq.in_(bulk))
            )).all():
                subjects.setdefault(seq, []).append(cid)
        for row in rows:
            seq = row["seq"]
            if seq != last_seq + 1:
                return _broken(count, seq, prev, f"sequence gap: expected {last_seq + 1}, found {seq}")
            if row["prev_hash"] != prev:
                return _broken(count, seq, prev, "prev_hash does not match the previous entry's hash")
            if entry_hash(dict(row), prev) != row["hash"]:
                return _broken(count, seq, prev, "entry content does not match its hash")
            if row["subjects_digest"] is not None and subjects_digest(subjects.get(seq, [])) != row["subjects_digest"]:
                return _broken(count, seq, prev, "bulk subject list does not match its digest")
            prev, last_seq = row["hash"], seq
            hashes[seq] = prev
            count += 1
    cps = (await session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq))).all()
    for cp in cps:
        if hashes.get(cp.seq) != cp.hash:
            return _broken(count, cp.seq, prev, f"checkpoint at entry {cp.seq} does not match the chain")
        key = trusted_public_key or cp.public_key
        try:
            verify(key, checkpoint_message(cp.seq, cp.hash), cp.signature)
        except SignatureError:
            return _broken(count, cp.seq, prev, f"checkpoint signature at entry {cp.seq} does not verify")
    return VerifyResult(True, count, len(cps), last_seq, prev)


def _broken(count: int, seq: int, head: str, reason: str) -> VerifyResult:
    return VerifyResult(False, count, 0, seq - 1, head, broken_seq=seq, reason=reason)


async def create_checkpoint(session: AsyncSession, signer: Signer) -> AuditCheckpointRow | None:
    """Sign the current chain head (inside a write transaction). None if the log is empty
    or the head is already checkpointed."""
    head = (await session.execute(
        select(AuditEntryRow.seq, AuditEntryRow.hash).order_by(AuditEntryRow.seq.desc()).limit(1)
    )).first()
    if head is None:
        return None
    exists = await session.get(AuditCheckpointRow, head[0])
    if exists is not None:
        return exists
    row = AuditCheckpointRow(
        seq=head[0], hash=head[1], created_at=utcnow(), key_id=signer.key_id,
        public_key=signer.public_key, signature=signer.sign(checkpoint_message(head[0], head[1])),
    )
    session.add(row)
    await session.flush()
    return row


def export_checkpoint(row: AuditCheckpointRow, signer_pem: str, path: Path) -> None:
    """Write a checkpoint as JSON to a file outside the database."""
    doc = {
        "seq": row.seq,
        "hash": row.hash,
        "created_at": canonical_ts(row.created_at),
        "key_id": row.key_id,
        "public_key_hex": row.public_key.hex(),
        "public_key_pem": signer_pem,
        "signature_hex": row.signature.hex(),
        "message": checkpoint_message(row.seq, row.hash).decode(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


async def verify_exported(session: AsyncSession, path: Path) -> VerifyResult:
    """Verify the chain and that an exported checkpoint still matches it."""
    doc = json.loads(path.read_text())
    pub = bytes.fromhex(doc["public_key_hex"])
    result = await verify_chain(session, trusted_public_key=pub)
    if not result.ok:
        return result
    seq, want = int(doc["seq"]), str(doc["hash"])
    row = await session.get(AuditEntryRow, seq)
    if row is None or row.hash != want:
        return _broken(result.entries, seq, result.head_hash, f"exported checkpoint at entry {seq} no longer matches")
    try:
        verify(pub, checkpoint_message(seq, want), bytes.fromhex(doc["signature_hex"]))
    except SignatureError:
        return _broken(result.entries, seq, result.head_hash, "exported checkpoint signature does not verify")
    return result
