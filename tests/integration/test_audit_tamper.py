"""Issue 10, finding 9: the audit log holds against its own operator.

- SQLite: ``INSERT OR REPLACE`` / ``REPLACE`` cannot rewrite an audit row.
- PostgreSQL: the service runs under a role with only INSERT and SELECT on the audit tables;
  it cannot update, delete, truncate or disable the append-only triggers; ``vault init`` sets
  the grants up. (CI runs as a superuser with trust auth: the restricted role is created here
  with a unique name and dropped afterwards.)
- Signed checkpoints are exported on a schedule, and an exported one catches truncation;
  ``vault audit verify`` without one warns loudly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from tests.conftest import DbTarget
from vault.access.caller import Caller
from vault.audit import Actor, AuditEvent, Outcome
from vault.audit.schedule import LATEST, CheckpointSchedule
from vault.bootstrap import Vault
from vault.config import Settings
from vault.db.engine import Database, sync_url
from vault.db.roles import ServiceRoleError, grant_service_role

ACTOR = Actor(uuid.uuid4(), "tamper-test", "application")


def _event(i: int) -> AuditEvent:
    return AuditEvent("customer.read", Outcome.ALLOWED, ACTOR, purpose="service_delivery",
                      customer_id=uuid.uuid4(), request_id=f"t{i}")


def _cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "VAULT_DATABASE_URL": settings.database_url, "VAULT_VAR_DIR": str(settings.var_dir),
            "VAULT_CRYPTO__KEK_FILE": str(settings.crypto.kek_file),
            "VAULT_POLICY__DIRECTORY": str(settings.policy.directory), **env}
    return subprocess.run([sys.executable, "-m", "vault.cli.main", *args], env=full, capture_output=True,
                          text=True, timeout=180, check=False)


async def test_sqlite_replace_cannot_rewrite_audit_rows(db_target: DbTarget, vault: Vault) -> None:
    if db_target.backend != "sqlite":
        pytest.skip("SQLite's REPLACE conflict clause")
    await vault.audit.record_durable(AuditEvent("customer.read", Outcome.ALLOWED, ACTOR, customer_id=uuid.uuid4(),
                                                subjects=(uuid.uuid4(), uuid.uuid4())))
    engine = create_engine(sync_url(db_target.url))
    columns = ("seq, ts, principal_id, principal_name, role, action, purpose, outcome, customer_id, subject_count, "
               "subjects_digest, fields, request_id, client_ip, detail, prev_hash, hash")
    rewritten = columns.replace("detail", "'rewritten'")
    statements = [
        f"INSERT OR REPLACE INTO audit_log ({columns}) SELECT {rewritten} "
        "FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
        f"REPLACE INTO audit_log ({columns}) SELECT {columns} FROM audit_log WHERE seq = 1",
        "INSERT OR REPLACE INTO audit_subjects (seq, customer_id) SELECT seq, customer_id FROM audit_subjects LIMIT 1",
    ]
    try:
        for stmt in statements:
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(stmt))
    finally:
        engine.dispose()


@pytest.fixture
def service_role(db_target: DbTarget) -> Iterator[str]:
    """A fresh, non-superuser login role, dropped (with its privileges) afterwards."""
    if db_target.backend != "postgres":
        pytest.skip("PostgreSQL role separation")
    role = f"vault_t_svc_{uuid.uuid4().hex[:10]}"
    owner = create_engine(sync_url(db_target.url), isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER'))
    try:
        yield role
    finally:
        with owner.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        owner.dispose()


async def test_service_role_cannot_rewrite_the_audit_log(db_target: DbTarget, vault: Vault, settings: Settings,
                                                         service_role: str) -> None:
    r = _cli(settings, "init", VAULT_DATABASE_SERVICE_ROLE=service_role)
    assert r.returncode == 0, r.stderr
    assert service_role in r.stdout
    url = make_url(db_target.url).set(username=service_role, password=None).render_as_string(hide_password=False)
    # The service, connected as that role, works: group-committed audit entries, customer writes.
    db = Database(url)
    try:
        svc_vault = Vault(settings.model_copy(update={"database_url": url}), db, vault.policies, vault.keyring,
                          type(vault.audit)(db), vault.lawful)
        seq = await svc_vault.audit.record_durable(_event(1))
        assert seq > 0
        async with db.write() as session:
            view, _ = await svc_vault.customers(session).create(
                {"customer_ref": f"svc-{uuid.uuid4().hex[:8]}", "name": "Role Test"},
                Caller(None, purpose="service_delivery"))
        assert view.id
    finally:
        await db.dispose()
    engine = create_engine(sync_url(url))
    try:
        for stmt in ("UPDATE audit_log SET detail = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log CASCADE",
                     "ALTER TABLE audit_log DISABLE TRIGGER ALL", "DROP TRIGGER audit_log_append_only ON audit_log",
                     "DELETE FROM audit_subjects", "UPDATE audit_checkpoints SET hash = 'x'",
                     "INSERT INTO audit_log (seq, ts, action, outcome, subject_count, prev_hash, hash) "
                     "VALUES (1, now(), 'x', 'x', 0, 'x', 'x') ON CONFLICT (seq) DO UPDATE SET detail = 'x'"):
            with pytest.raises(DBAPIError, match=r"permission denied|must be owner|append-only"), \
                    engine.begin() as conn:
                conn.execute(text(stmt))
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() >= 1
    finally:
        engine.dispose()


def test_superuser_is_refused_as_service_role(db_target: DbTarget) -> None:
    if db_target.backend != "postgres":
        pytest.skip("PostgreSQL role separation")
    engine = create_engine(sync_url(db_target.url))
    try:
        with engine.begin() as conn:
            superuser = conn.execute(text("SELECT current_user")).scalar_one()
            with pytest.raises(ServiceRoleError, match="superuser"):
                grant_service_role(conn, superuser)
            with pytest.raises(ServiceRoleError, match="does not exist"):
                grant_service_role(conn, f"nobody_{uuid.uuid4().hex[:8]}")
    finally:
        engine.dispose()


async def test_scheduled_checkpoints_catch_truncation(vault: Vault, settings: Settings, tmp_path: Path) -> None:
    schedule = CheckpointSchedule(vault.db, vault.keyring.audit_signer, tmp_path, every_seconds=3600,
                                  every_entries=5)
    for i in range(3):
        await vault.audit.record_durable(_event(i))
    first = await schedule.tick()
    assert first is not None  # the first tick exports the head as found at start
    await vault.audit.record_durable(_event(10))
    assert await schedule.tick() is None  # neither 5 entries nor an hour since
    for i in range(5):
        await vault.audit.record_durable(_event(20 + i))
    second = await schedule.tick()
    assert second is not None and (tmp_path / LATEST).exists()
    doc = json.loads(second.read_text())
    assert doc["seq"] > json.loads(first.read_text())["seq"]
    # Verifying against the exported checkpoint passes; a claimed head beyond the log (truncation) fails.
    r = _cli(settings, "audit", "verify", "--checkpoint", str(second))
    assert r.returncode == 0, r.stderr
    doc["seq"] += 1_000_000
    forged = tmp_path / "truncated.json"
    forged.write_text(json.dumps(doc))
    r = _cli(settings, "audit", "verify", "--checkpoint", str(forged))
    assert r.returncode == 1


def test_verify_without_external_checkpoint_warns(vault: Vault, settings: Settings) -> None:
    del vault
    r = _cli(settings, "audit", "verify")
    assert r.returncode == 0, r.stderr
    assert "WARNING" in r.stderr and "external checkpoint" in r.stderr
