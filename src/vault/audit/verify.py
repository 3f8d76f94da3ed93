"""Chain verification and Ed25519-signed checkpoints."""

from __future__ import annotations

import collections
import hashlib
import itertools
import json
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.pool import NullPool

from vault.audit.entry import GENESIS, HASHED_COLUMNS, OPTIONAL_HASHED_COLUMNS, canonical_ts
from vault.crypto.signing import SignatureError, verify
from vault.lib.clock import utcnow

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from sqlalchemy import Connection, Engine
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.audit.models import AuditCheckpointRow
    from vault.crypto.signing import Signer

_CHUNK = 10_000
LATEST_CHECKPOINT = "latest.json"
"""File name of the newest checkpoint the schedule exports (``vault audit verify`` points to it)."""


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
_SELECT = f"SELECT {', '.join(_COLS)} FROM audit_log WHERE seq > :after AND seq <= :upto ORDER BY seq"
_SUBJECTS = text("SELECT seq, customer_id FROM audit_subjects WHERE seq > :after AND seq <= :upto")
_BULK = text("SELECT seq, subjects_digest FROM audit_log WHERE seq > :after AND seq <= :upto"
             " AND subjects_digest IS NOT NULL")
_HEAD = text("SELECT max(seq) FROM audit_log")
_CHECKPOINTS = text("SELECT seq, hash, public_key, signature FROM audit_checkpoints ORDER BY seq")
_UUID_COLS = ("principal_id", "customer_id")
_INT_COLS = ("seq", "subject_count")
# One C encoder for every entry, the same output as entry_hash's json.dumps(sort_keys=True,
# separators=(",", ":"), ensure_ascii=False); json.dumps with keyword arguments builds a new encoder per call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_c_encoder: Any = (None if _c_make_encoder is None else
                   _c_make_encoder(None, None, json.encoder.encode_basestring, None, ":", ",", True, False, True))
_sha256_digest: Any = type(hashlib.sha256()).digest


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


# SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff'; canonical_ts writes 'YYYY-MM-DDTHH:MM:SS.ffffffZ'. Only a
# value of that form (with ' ' or 'T') can come out equal to the canonical text; any other takes the slow path.
_TS_SQLITE = "replace(ts, ' ', 'T') || 'Z'"


def _pg_value(col: str) -> str:
    """PostgreSQL: the canonical JSON text of one column's value (what :func:`entry_hash` writes for it)."""
    if col == "ts":
        value = f"""'"' || to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '"'"""
    elif col in _UUID_COLS:
        value = f"""'"' || replace({col}::text, '-', '') || '"'"""
    elif col in _INT_COLS:
        value = f"{col}::text"
    else:
        value = f"to_json({col})::text"
    return f"COALESCE({value}, 'null')"


def _doc_sql(dialect: str) -> str:
    """SQL building each entry's canonical JSON (sorted keys, no spaces) from its columns: one string per entry.

    SQLite: one ``json_object`` call with the keys in sorted order (compact, escapes as Python's json with
    ``ensure_ascii=False``), one variant per combination of the optional columns that are set; timestamps as
    SQLAlchemy stores them are rewritten to :func:`canonical_ts`'s form. PostgreSQL: ``to_json`` per value,
    concatenated. A value the SQL encodes differently from Python (another timestamp or UUID spelling) only
    makes its chunk take the row-by-row path.
    """
    required = sorted((*HASHED_COLUMNS, "prev_hash"))
    if dialect == "postgresql":
        keys = sorted((*required, *OPTIONAL_HASHED_COLUMNS))
        assert keys[0] not in OPTIONAL_HASHED_COLUMNS
        parts = []
        for i, key in enumerate(keys):
            pair = f"""'{',' if i else ''}"{key}":' || {_pg_value(key)}"""
            parts.append(f"CASE WHEN {key} IS NULL THEN '' ELSE {pair} END" if key in OPTIONAL_HASHED_COLUMNS
                         else pair)
        return "'{' || " + " || ".join(f"({p})" for p in parts) + " || '}'"
    variants = []
    for present in itertools.product((True, False), repeat=len(OPTIONAL_HASHED_COLUMNS)):
        keys = sorted((*required, *(c for c, p in zip(OPTIONAL_HASHED_COLUMNS, present, strict=True) if p)))
        args = ", ".join(f"'{k}', {_TS_SQLITE if k == 'ts' else k}" for k in keys)
        cond = " AND ".join(f"{c} IS {'NOT ' if p else ''}NULL"
                            for c, p in zip(OPTIONAL_HASHED_COLUMNS, present, strict=True))
        variants.append((cond, f"json_object({args})"))
    *cases, (_, last) = variants
    return "CASE " + " ".join(f"WHEN {cond} THEN {obj}" for cond, obj in cases) + f" ELSE {last} END"


def _chunk_sql(dialect: str) -> str:
    """One row per chunk of the seq range: its size and seq range, the entries' canonical JSON joined by newlines (JSON
    escapes every newline inside a value), and their prev_hash and hash columns concatenated."""
    if dialect == "postgresql":
        concat = ("string_agg(doc, E'\\n' ORDER BY seq), string_agg(prev_hash, '' ORDER BY seq), "
                  "string_agg(hash, '' ORDER BY seq)")
        odd = "count(*) FILTER (WHERE length(prev_hash) <> 64 OR length(hash) <> 64)"
        bulk = "count(subjects_digest)"
    else:
        concat = "group_concat(doc, char(10)), group_concat(prev_hash, ''), group_concat(hash, '')"
        odd = "sum(length(prev_hash) <> 64 OR length(hash) <> 64)"
        bulk = "count(subjects_digest)"
    return (f"SELECT count(*), min(seq), max(seq), {odd}, {bulk}, {concat} FROM ("
            f"SELECT seq, {_doc_sql(dialect)} AS doc, prev_hash, hash, subjects_digest FROM audit_log "
            f"WHERE seq > :after AND seq <= :upto ORDER BY seq) AS chunk")


@dataclass(slots=True)
class _Walk:
    """Where the walk along the chain stands."""

    wanted: set[int]
    prev: str = GENESIS
    last_seq: int = 0
    count: int = 0
    hashes: dict[int, str] = field(default_factory=dict)


def _sequential(conn: Connection, head: int, size: int) -> Iterator[Sequence[Any]]:
    """The chunk rows up to entry ``head``, one query after the other on ``conn``."""
    sql = text(_chunk_sql(conn.dialect.name))
    for after in range(0, head, size):
        yield conn.execute(sql, {"after": after, "upto": after + size}).one()


def _parallel(engine: Engine, head: int, size: int, workers: int) -> Iterator[Sequence[Any]]:
    """The chunk rows up to entry ``head`` in order, built by ``workers`` threads with a connection each.

    The drivers release the GIL while the database builds a chunk, so the chunks are built on the other
    cores while the caller hashes the previous one; at most ``workers + 1`` chunks are held at a time.
    """
    sql = text(_chunk_sql(engine.dialect.name))
    local, conns = threading.local(), []

    def fetch(after: int) -> Sequence[Any]:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = engine.connect()
            conns.append(conn)
        return tuple(conn.execute(sql, {"after": after, "upto": after + size}).one())

    afters = iter(range(0, head, size))
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="audit-verify") as pool:
            window = collections.deque(pool.submit(fetch, a) for a in itertools.islice(afters, workers + 1))
            try:
                while window:
                    row = window.popleft().result()
                    after = next(afters, None)
                    if after is not None:
                        window.append(pool.submit(fetch, after))
                    yield row
            finally:
                for pending in window:
                    pending.cancel()
    finally:
        for conn in conns:
            conn.close()


def _verify(conn: Connection, trusted_public_key: bytes | None,
            chunks: Callable[[int], Iterator[Sequence[Any]]] | None = None) -> VerifyResult:
    """The walk along the chain (synchronous driver, or ``run_sync`` of an async session).

    Each chunk of the seq range is one aggregate row built by the database: the entries' canonical JSON
    joined by newlines and their hash columns concatenated. Python hashes the chunk in C (``map`` over
    the split bytes), compares the digests with the stored hashes as one string and the prev_hash column
    with the hashes shifted by one: no Python object per entry is built by our code. A chunk that does
    not match on this path (a broken entry, a gap, or a value stored in a form the SQL encoding does not
    cover) is walked again row by row with :func:`entry_hash`'s encoding, which names the first broken
    entry. Entries appended after the walk started are not checked.

    Args:
        conn: the connection for checkpoints, bulk subject lists and row-by-row walks.
        trusted_public_key: see :func:`verify_chain`.
        chunks: the chunk rows up to a head seq (default: :func:`_sequential` on ``conn``).
    """
    cps = conn.execute(_CHECKPOINTS).all()
    head = conn.execute(_HEAD).scalar() or 0
    walk = _Walk(wanted={cp[0] for cp in cps})
    for n, first, last, odd, bulk, docs, prevs, hashes in (chunks or partial(_sequential, conn, size=_CHUNK))(head):
        if not n:
            continue
        fast = (not odd and first == walk.last_seq + 1 and last - first + 1 == n
                and prevs == walk.prev + hashes[:-64])
        if fast:
            parts = docs.encode().split(b"\n")
            fast = len(parts) == n and b"".join(map(_sha256_digest, map(hashlib.sha256, parts))).hex() == hashes
        if fast and bulk:
            fast = _bulk_digests_match(conn, walk.last_seq, last)
        if fast:
            for seq in walk.wanted.intersection(range(first, last + 1)):
                walk.hashes[seq] = hashes[(seq - first) * 64:(seq - first + 1) * 64]
            walk.prev, walk.last_seq, walk.count = hashes[-64:], last, walk.count + n
            continue
        broken = _walk_rows(conn, walk, last)
        if broken is not None:
            return broken
    for cp_seq, cp_hash, public_key, signature in cps:
        if cp_seq > head:
            continue
        if walk.hashes.get(cp_seq) != cp_hash:
            return _broken(walk.count, cp_seq, walk.prev, f"checkpoint at entry {cp_seq} does not match the chain")
        try:
            verify(trusted_public_key or bytes(public_key), checkpoint_message(cp_seq, cp_hash), bytes(signature))
        except SignatureError:
            return _broken(walk.count, cp_seq, walk.prev, f"checkpoint signature at entry {cp_seq} does not verify")
    return VerifyResult(True, walk.count, len(cps), walk.last_seq, walk.prev)


def _bulk_digests_match(conn: Connection, after: int, upto: int) -> bool:
    """Whether every bulk entry after ``after`` up to ``upto`` matches the digest of its subject list."""
    bounds = {"after": after, "upto": upto}
    digests = conn.execute(_BULK, bounds).all()
    subjects: dict[int, list[Any]] = {seq: [] for seq, _ in digests}
    for seq, cid in conn.execute(_SUBJECTS, bounds):
        subjects.setdefault(seq, []).append(cid)
    return all(_digest(subjects[seq]) == digest for seq, digest in digests)


def _walk_rows(conn: Connection, walk: _Walk, upto: int) -> VerifyResult | None:
    """Check the entries after ``walk.last_seq`` up to ``upto`` one by one; the first broken one, or None."""
    i_digest, i_prev, i_hash = HASHED_COLUMNS.index("subjects_digest"), len(_COLS) - 2, len(_COLS) - 1
    bounds = {"after": walk.last_seq, "upto": upto}
    rows = conn.execute(text(_SELECT), bounds).all()
    subjects: dict[int, list[Any]] = {}
    if any(r[i_digest] is not None for r in rows):
        for seq, cid in conn.execute(_SUBJECTS, bounds).all():
            subjects.setdefault(seq, []).append(cid)
    for row in rows:
        seq, prev = row[0], walk.prev
        if seq != walk.last_seq + 1:
            return _broken(walk.count, seq, prev, f"sequence gap: expected {walk.last_seq + 1}, found {seq}")
        if row[i_prev] != prev:
            return _broken(walk.count, seq, prev, "prev_hash does not match the previous entry's hash")
        if _raw_hash(row, prev) != row[i_hash]:
            return _broken(walk.count, seq, prev, "entry content does not match its hash")
        if row[i_digest] is not None and _digest(subjects.get(seq, [])) != row[i_digest]:
            return _broken(walk.count, seq, prev, "bulk subject list does not match its digest")
        walk.prev, walk.last_seq = row[i_hash], seq
        if seq in walk.wanted:
            walk.hashes[seq] = walk.prev
        walk.count += 1
    return None


async def verify_chain(session: AsyncSession, *, trusted_public_key: bytes | None = None) -> VerifyResult:
    """Recompute every hash, the bulk subject digests and every checkpoint signature.

    Runs :func:`_verify` on the session's connection (keyset chunks aggregated by the database, hashed in
    C; memory bounded by one chunk). ``vault audit verify`` calls :func:`verify_database` instead, which
    uses the synchronous driver directly.

    Args:
        session: an open session.
        trusted_public_key: if given, checkpoints must be signed by this key
            (exported earlier), not merely by the key stored beside them.
    """
    return await session.run_sync(lambda s: _verify(s.connection(), trusted_public_key))


def verify_database(url: str, *, checkpoint_file: Path | None = None, workers: int | None = None,
                    chunk: int = _CHUNK) -> VerifyResult:
    """Verify the chain of the database at ``url`` with its synchronous driver (pysqlite / psycopg).

    Chunks are built by ``workers`` threads (default: one per core, at most 4), each with its own
    connection, while this thread hashes.

    Args:
        url: the database URL (any driver; the synchronous one is used).
        checkpoint_file: also check this exported checkpoint (its key is then the trusted one).
        workers: threads building chunks.
        chunk: entries per chunk.
    """
    from sqlalchemy import create_engine

    from vault.db.engine import sync_url

    sync = sync_url(url)
    args = {"check_same_thread": False} if sync.startswith("sqlite") else {}
    engine = create_engine(sync, poolclass=NullPool, connect_args=args)
    chunks = partial(_parallel, engine, size=chunk, workers=workers or min(4, os.cpu_count() or 1))
    try:
        with engine.connect() as conn:
            if checkpoint_file is None:
                return _verify(conn, None, chunks)
            return _check_exported(conn, checkpoint_file, chunks)
    finally:
        engine.dispose()


def _broken(count: int, seq: int, head: str, reason: str) -> VerifyResult:
    return VerifyResult(False, count, 0, seq - 1, head, broken_seq=seq, reason=reason)


async def create_checkpoint(session: AsyncSession, signer: Signer) -> AuditCheckpointRow | None:
    """Sign the current chain head (inside a write transaction). None if the log is empty
    or the head is already checkpointed."""
    from vault.audit.models import AuditCheckpointRow, AuditEntryRow

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
    return await session.run_sync(lambda s: _check_exported(s.connection(), path))


def _check_exported(conn: Connection, path: Path,
                    chunks: Callable[[int], Iterator[Sequence[Any]]] | None = None) -> VerifyResult:
    doc = json.loads(path.read_text())
    pub = bytes.fromhex(doc["public_key_hex"])
    result = _verify(conn, pub, chunks)
    if not result.ok:
        return result
    seq, want = int(doc["seq"]), str(doc["hash"])
    row = conn.execute(text("SELECT hash FROM audit_log WHERE seq = :seq"), {"seq": seq}).first()
    if row is None or row[0] != want:
        return _broken(result.entries, seq, result.head_hash, f"exported checkpoint at entry {seq} no longer matches")
    try:
        verify(pub, checkpoint_message(seq, want), bytes.fromhex(doc["signature_hex"]))
    except SignatureError:
        return _broken(result.entries, seq, result.head_hash, "exported checkpoint signature does not verify")
    return result
