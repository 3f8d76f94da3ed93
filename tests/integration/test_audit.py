"""The audit log: chain, group commit, append-only enforcement, tampering, checkpoints, CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import DbTarget
from vault.audit import Actor, AuditEvent, AuditWriteError, Outcome, create_checkpoint, export_checkpoint, verify_chain
from vault.audit import log as audit_log
from vault.audit.entry import subjects_digest
from vault.audit.models import AuditEntryRow, AuditSubjectRow
from vault.audit.subjects import SubjectList
from vault.audit.verify import verify_exported
from vault.bootstrap import Vault
from vault.config import Settings
from vault.db.engine import sync_url

ACTOR = Actor(uuid.uuid4(), "auditor-test", "application")


def _event(i: int, **kw: object) -> AuditEvent:
    return AuditEvent("customer.read", Outcome.ALLOWED, ACTOR, purpose="service_delivery",
                      customer_id=uuid.uuid4(), fields=("email", "name"), request_id=f"r{i}", **kw)  # type: ignore[arg-type]


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VAULT_DATABASE_URL": settings.database_url,
           "VAULT_CRYPTO__KEK_FILE": str(settings.crypto.kek_file),
           "VAULT_POLICY__DIRECTORY": str(settings.policy.directory)}
    return subprocess.run([sys.executable, "-m", "vault.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


async def test_group_commit_keeps_one_linear_chain(vault: Vault) -> None:
    seqs = await asyncio.gather(*(vault.audit.record_durable(_event(i)) for i in range(300)))
    assert len(set(seqs)) == 300
    bulk = tuple(uuid.uuid4() for _ in range(50))
    await vault.audit.record_durable(AuditEvent("contacts.resolve", Outcome.ALLOWED, ACTOR, purpose="marketing_email",
                                                subjects=bulk))
    async with vault.db.read() as session:
        result = await verify_chain(session)
    assert result.ok, result.reason
    assert result.entries >= 301
    assert result.head_seq == result.entries


async def test_bulk_entry_above_group_commit_size_stores_every_subject(vault: Vault,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The large-entry path (its own transaction, subjects inserted in chunks) chains like group commit."""
    monkeypatch.setattr(audit_log, "GROUP_SUBJECTS_MAX", 4)
    monkeypatch.setattr(audit_log, "_BULK_SUBJECT_CHUNK", 3)
    ids = sorted(uuid.uuid4() for _ in range(11))
    subjects = SubjectList()
    subjects.extend_packed(b"".join(i.bytes for i in ids))
    seq = await vault.audit.record_bulk_durable(AuditEvent("extract.create", Outcome.ALLOWED, ACTOR,
                                                           purpose="analytics"), subjects)
    await vault.audit.record_durable(_event(1))
    async with vault.db.read() as session:
        stored = (await session.scalars(select(AuditSubjectRow.customer_id)
                                        .where(AuditSubjectRow.seq == seq))).all()
        entry = await session.get(AuditEntryRow, seq)
        result = await verify_chain(session)
    assert sorted(stored) == ids
    assert entry is not None and entry.subject_count == 11 and entry.subjects_digest == subjects_digest(ids)
    assert result.ok, result.reason


async def test_subject_rows_must_belong_to_an_entry(vault: Vault) -> None:
    """SQLite's foreign key, PostgreSQL's statement-level trigger (0010subjects): same refusal, per statement."""
    seq = await vault.audit.record_durable(_event(1, subjects=(uuid.uuid4(), uuid.uuid4())))
    for rows in ([(seq + 10_000, uuid.uuid4())], [(seq, uuid.uuid4()), (seq + 10_000, uuid.uuid4())]):
        with pytest.raises(DBAPIError, match=r"(?i)foreign key|belong to an audit_log entry"):
            async with vault.db.write() as session:
                await session.execute(insert(AuditSubjectRow), [{"seq": s, "customer_id": c} for s, c in rows])
    async with vault.db.read() as session:  # nothing of either statement was kept
        result = await verify_chain(session)
    assert result.ok, result.reason


async def test_one_bad_entry_fails_alone_and_the_chain_stays_linear(vault: Vault) -> None:
    """The writer retries a failed batch entry by entry: only the bad entry's waiter learns of a failure."""
    bad = AuditEvent(None, Outcome.ALLOWED, ACTOR)  # type: ignore[arg-type]  # action is NOT NULL
    results = await asyncio.gather(*(vault.audit.record_durable(_event(i)) for i in range(20)),
                                   vault.audit.record_durable(bad),
                                   *(vault.audit.record_durable(_event(i)) for i in range(20, 40)),
                                   return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], AuditWriteError)
    seqs = sorted(r for r in results if isinstance(r, int))
    assert len(seqs) == 40 and seqs == list(range(seqs[0], seqs[0] + 40))
    async with vault.db.read() as session:
        assert (await verify_chain(session)).ok


async def test_update_and_delete_are_refused_by_the_database(db_target: DbTarget, vault: Vault) -> None:
    await vault.audit.record_durable(_event(1, subjects=(uuid.uuid4(), uuid.uuid4())))
    async with vault.db.write() as session:
        assert await create_checkpoint(session, vault.keyring.audit_signer) is not None
    engine = create_engine(sync_url(db_target.url))
    statements = ["UPDATE audit_log SET detail = 'x'", "DELETE FROM audit_log", "DELETE FROM audit_subjects",
                  "UPDATE audit_checkpoints SET hash = 'x'", "DELETE FROM audit_checkpoints"]
    if db_target.backend == "postgres":
        statements.append("TRUNCATE audit_log CASCADE")
    for stmt in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(stmt))
    engine.dispose()


async def test_checkpoint_export_and_verify(vault: Vault, tmp_path: Path) -> None:
    await vault.audit.record_durable(_event(2))
    async with vault.db.write() as session:
        row = await create_checkpoint(session, vault.keyring.audit_signer)
    assert row is not None
    path = tmp_path / "cp.json"
    export_checkpoint(row, vault.keyring.audit_signer.public_pem(), path)
    await vault.audit.record_durable(_event(3))
    async with vault.db.read() as session:
        result = await verify_exported(session, path)
    assert result.ok, result.reason
    assert result.checkpoints >= 1


async def test_tampering_is_detected_and_named(db_target: DbTarget, vault: Vault, settings: Settings) -> None:
    for i in range(5):
        await vault.audit.record_durable(_event(100 + i))
    ok = _cli(settings, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "intact" in ok.stdout

    async with vault.db.read() as session:
        head = (await verify_chain(session)).head_seq
    victim = head - 2
    engine = create_engine(sync_url(db_target.url))
    with engine.begin() as conn:
        if db_target.backend == "postgres":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            conn.execute(text("UPDATE audit_log SET purpose = 'marketing_email' WHERE seq = :s"), {"s": victim})
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("UPDATE audit_log SET purpose = 'marketing_email' WHERE seq = :s"), {"s": victim})
    engine.dispose()

    async with vault.db.read() as session:
        result = await verify_chain(session)
    assert not result.ok
    assert result.broken_seq == victim
    broken = _cli(settings, "audit", "verify")
    assert broken.returncode == 1
    assert f"entry {victim}" in broken.stderr
