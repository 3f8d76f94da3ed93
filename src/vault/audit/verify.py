"""Chain verification and Ed25519-signed checkpoints."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text

from vault.audit.entry import GENESIS, HASHED_COLUMNS, OPTIONAL_HASHED_COLUMNS, canonical_ts
from vault.audit.models import AuditCheckpointRow, AuditEntryRow
from vault.crypto.signing import SignatureError, verify
from vault.lib.clock import utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.crypto.signing import Signer

_CHUNK = 2000


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


_COLS = (*HASHED_COLUMNS, *OPTIONAL_HASHED_COLUMNS, "prev_hash", "hash")
_SELECT = text(f"SELECT {', '.join(_COLS)} FROM audit_log WHERE seq > :after ORDER BY seq LIMIT :n")
_SUBJECTS = text("SELECT seq, customer_id FROM audit_subjects WHERE seq > :after AND seq <= :upto")
_UUID_COLS = ("principal_id", "customer_id")
# One C encoder for every entry, the same output as entry_hash's json.dumps(sort_keys=True,
# separators=(",", ":"), ensure_ascii=False); json.dumps with keyword arguments builds a new encoder per call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_c_encoder: Any = (None if _c_make_encoder is None else
                   _c_make_encoder(None, None, json.encoder.encode_basestring, None, ":", ",", True, False, True))


def _encode(doc: dict[str, Any]) -> str:
    return "".join(_c_encoder(doc, 0)) if _c_encoder is not None else _ENCODER.encode(doc)


def _ts(value: Any) -> str:
    """:func:`canonical_ts` of a raw driver value (a datetime, or SQLite's ``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " " and value[19] == ".":
            return f"{value[:10]}T{value[11:]}Z"
        value = datetime.fromisoformat(value)
    return canonical_ts(value)


def _uuid_hex(value: Any) -> str | None:
    """``UUID.hex`` of a raw driver value (a UUID, or SQLite's 32-character hex string)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if len(value) == 32 and value == value.lower() else uuid.UUID(value).hex
    return str(value.hex)


def _raw_hash(row: Sequence[Any], prev_hash: str) -> str:
    """:func:`vault.audit.entry.entry_hash` over a raw row of :data:`_COLS` (same bytes, fewer objects)."""
    doc = dict(zip(HASHED_COLUMNS, row, strict=False))
    doc["ts"] = _ts(doc["ts"])
    for col in _UUID_COLS:
        v = doc[col]
        if v is not None and not (type(v) is str and len(v) == 32 and v == v.lower()):
            doc[col] = _uuid_hex(v)
    for i, col in enumerate(OPTIONAL_HASHED_COLUMNS, len(HASHED_COLUMNS)):
        if row[i] is not None:
            doc[col] = row[i]
    doc["prev_hash"] = prev_hash
    return hashlib.sha256(_encode(doc).encode()).hexdigest()


def _digest(ids: list[Any]) -> str:
    h = hashlib.sha256()
    for hex_id in sorted(_uuid_hex(c) or "" for c in ids):
        h.update(hex_id.encode() + b"\n")
    return h.hexdigest()


async def verify_chain(session: AsyncSession, *, trusted_public_key: bytes | None = None) -> VerifyResult:
    """Recompute every hash, the bulk subject digests and every checkpoint signature.

    Streams the hashed columns in keyset chunks of raw driver rows (no ORM objects, memory bounded
    by one chunk) and keeps only the hashes at checkpointed entries.

    Args:
        session: an open session.
        trusted_public_key: if given, checkpoints must be signed by this key
            (exported earlier), not merely by the key stored beside them.
    """
    cps = (await session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq))).all()
    wanted = {cp.seq for cp in cps}
    hashes: dict[int, str] = {}
    prev, last_seq, count = GENESIS, 0, 0
    i_digest, i_prev, i_hash = HASHED_COLUMNS.index("subjects_digest"), len(_COLS) - 2, len(_COLS) - 1
    while True:
        rows = (await session.execute(_SELECT, {"after": last_seq, "n": _CHUNK})).all()
        if not rows:
            break
        subjects: dict[int, list[Any]] = {}
        if any(r[i_digest] is not None for r in rows):
            for seq, cid in (await session.execute(_SUBJECTS, {"after": last_seq, "upto": rows[-1][0]})).all():
                subjects.setdefault(seq, []).append(cid)
        for row in rows:
            seq = row[0]
            if seq != last_seq + 1:
                return _broken(count, seq, prev, f"sequence gap: expected {last_seq + 1}, found {seq}")
            if row[i_prev] != prev:
                return _broken(count, seq, prev, "prev_hash does not match the previous entry's hash")
            if _raw_hash(row, prev) != row[i_hash]:
                return _broken(count, seq, prev, "entry content does not match its hash")
            if row[i_digest] is not None and _digest(subjects.get(seq, [])) != row[i_digest]:
                return _broken(count, seq, prev, "bulk subject list does not match its digest")
            prev, last_seq = row[i_hash], seq
            if seq in wanted:
                hashes[seq] = prev
            count += 1
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
