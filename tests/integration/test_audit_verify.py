"""`vault audit verify`'s fast path: the database builds each entry's canonical JSON, Python hashes chunks."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import create_engine, text

from tests.conftest import DbTarget
from vault.audit import Actor, AuditEvent, Outcome, create_checkpoint, verify_chain
from vault.audit.verify import _chunk_sql, verify_database
from vault.bootstrap import Vault
from vault.db.engine import sync_url

ACTOR = Actor(uuid.uuid4(), "auditor-test", "application", key_prefix="vk_test", key_issuer="operator:ops")


def _event(i: int, **kw: object) -> AuditEvent:
    return AuditEvent("customer.read", Outcome.ALLOWED, ACTOR, purpose="service_delivery",
                      customer_id=uuid.uuid4(), fields=("email", "name"), request_id=f"r{i}", **kw)  # type: ignore[arg-type]


AWKWARD = ['say "hi"', "back\\slash", "line\nbreak\ttab\x01ctl\x1f", "홍길동 고객 문의", "emoji \U0001f600", "\x7f del"]


async def test_sql_encoding_is_the_canonical_json(db_target: DbTarget, vault: Vault) -> None:
    """verify's fast path: the database builds each entry's canonical JSON; it must be entry_hash's bytes."""
    seqs = [await vault.audit.record_durable(_event(i, detail=d)) for i, d in enumerate(AWKWARD)]
    engine = create_engine(sync_url(db_target.url))
    with engine.connect() as conn:
        row = conn.execute(text(_chunk_sql(conn.dialect.name)), {"after": seqs[0] - 1, "upto": seqs[-1]}).one()
        stored = conn.execute(text("SELECT hash FROM audit_log WHERE seq >= :a AND seq <= :b ORDER BY seq"),
                              {"a": seqs[0], "b": seqs[-1]}).scalars().all()
    engine.dispose()
    n, first, last, odd, _bulk, docs, _prevs, hashes = row
    assert (n, first, last, odd) == (len(AWKWARD), seqs[0], seqs[-1], 0)
    parts = docs.encode().split(b"\n")
    assert [hashlib.sha256(p).hexdigest() for p in parts] == list(stored)
    assert "".join(stored) == hashes


async def test_verify_database_names_the_first_broken_entry_in_any_chunk(db_target: DbTarget, vault: Vault) -> None:
    for i in range(10):
        await vault.audit.record_durable(_event(200 + i, detail=AWKWARD[i % len(AWKWARD)]))
    await vault.audit.record_durable(AuditEvent("contacts.resolve", Outcome.ALLOWED, ACTOR, purpose="marketing_email",
                                                subjects=tuple(uuid.uuid4() for _ in range(7))))
    async with vault.db.write() as session:
        await create_checkpoint(session, vault.keyring.audit_signer)
    for chunk in (3, 10_000):
        ok = verify_database(db_target.url, chunk=chunk, workers=2)
        assert ok.ok, ok.reason
        assert ok.checkpoints >= 1 and ok.entries == ok.head_seq
    victim = ok.head_seq - 4
    engine = create_engine(sync_url(db_target.url))
    with engine.begin() as conn:
        if db_target.backend == "postgres":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            conn.execute(text("UPDATE audit_log SET detail = 'x' WHERE seq = :s"), {"s": victim})
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("UPDATE audit_log SET detail = 'x' WHERE seq = :s"), {"s": victim})
    engine.dispose()
    for chunk in (3, 10_000):
        broken = verify_database(db_target.url, chunk=chunk, workers=2)
        assert (broken.ok, broken.broken_seq, broken.reason) == (False, victim, "entry content does not match its hash")
    async with vault.db.read() as session:
        assert (await verify_chain(session)).broken_seq == victim
