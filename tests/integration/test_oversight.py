"""Issue 12 section 4: key management, backups and policy files are audited; the inspection's
off-hours rule; the access-log retention policy."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from tests.conftest import DbTarget
from tests.integration.test_audit import _cli
from tests.integration.test_rights import new_customer
from vault.audit import Actor, AuditEvent, Outcome, verify_chain
from vault.audit.inspection import KST, InspectionSettings, build_inspection
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault, open_vault
from vault.config import AuditSettings, PolicySettings, Settings


async def _entries(vault: Vault, action: str) -> list[AuditEntryRow]:
    async with vault.db.read() as session:
        return list((await session.scalars(select(AuditEntryRow).where(AuditEntryRow.action == action)
                                           .order_by(AuditEntryRow.seq))).all())


async def test_kek_rotation_rewrap_and_retirement_are_audited(vault: Vault) -> None:
    await new_customer(vault)
    rotation = vault.key_rotation()
    old = vault.keyring.provider.current_version
    new = await rotation.rotate()
    await rotation.retire(old)
    [rotate] = await _entries(vault, "key.kek_rotate")
    assert rotate.detail == f"version={new} previous={old}" and rotate.outcome == "allowed"
    rewraps = await _entries(vault, "key.kek_rewrap")
    assert rewraps[-1].detail is not None and f"version={new}" in rewraps[-1].detail
    assert "complete=true" in rewraps[-1].detail
    [retire] = await _entries(vault, "key.kek_retire")
    assert retire.detail == f"version={old}" and retire.seq > rotate.seq
    version, _ = await rotation.rotate_index(vault.policies.catalogue)
    assert (await _entries(vault, "key.index_rotate"))[-1].detail == f"index_version={version}"


async def test_policy_file_changes_are_recorded_by_hash_at_start_up(settings: Settings, vault: Vault,
                                                                    tmp_path: Path) -> None:
    del vault  # the module's vault exists (database migrated, system keys made)
    policies = tmp_path / "policies"
    shutil.copytree(settings.policy.directory, policies)
    local = settings.model_copy(update={"policy": PolicySettings(directory=policies)})  # type: ignore[call-arg]

    async def loaded(s: Settings) -> list[AuditEntryRow]:
        v = await open_vault(s)
        try:
            return await _entries(v, "policy.loaded")
        finally:
            await v.close()

    first = await loaded(local)
    assert first, "start-up records the policy files' hash"
    assert [e.seq for e in await loaded(local)] == [e.seq for e in first]  # same files: no new entry
    with (policies / "purposes.yaml").open("a") as fh:
        fh.write("\n# edited by the test\n")
    after = await loaded(local)
    assert len(after) == len(first) + 1
    new = after[-1].detail or ""
    digest = hashlib.sha256((policies / "purposes.yaml").read_bytes()).hexdigest()
    assert f"purposes.yaml:{digest[:12]}" in new and new.split()[0] != (first[-1].detail or "").split()[0]
    assert len(await loaded(local)) == len(after)  # unchanged again: nothing new


def test_access_log_retention_is_at_least_two_years() -> None:
    assert AuditSettings().retention_days == 730
    assert AuditSettings(retention_days=1825).retention_days == 1825  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        AuditSettings(retention_days=365)  # type: ignore[call-arg]


async def test_off_hours_access_is_reported_in_korean_time(vault: Vault) -> None:
    actor = Actor(uuid.uuid4(), f"night-owl-{uuid.uuid4().hex[:6]}", "crm_agent")
    await vault.audit.record_durable(AuditEvent("customer.read", Outcome.ALLOWED, actor, purpose="customer_support",
                                                customer_id=uuid.uuid4(), fields=("name",)))
    now = datetime.now(UTC).astimezone(KST)
    month = now.strftime("%Y-%m")
    covering = InspectionSettings(off_hours_start=now.hour, off_hours_end=(now.hour + 1) % 24)
    outside = InspectionSettings(off_hours_start=(now.hour + 1) % 24, off_hours_end=(now.hour + 2) % 24)
    async with vault.db.read() as session:
        flagged = await build_inspection(session, month, covering)
        quiet = await build_inspection(session, month, outside)
    assert any(p["principal"] == actor.name and p["single_customers"] == 1
               for p in flagged.body["off_hours_access"])
    assert all(p["principal"] != actor.name for p in quiet.body["off_hours_access"])
    assert flagged.sha256 != quiet.sha256


async def test_backup_and_restore_are_audited_with_the_file_hash(db_target: DbTarget, settings: Settings,
                                                                 vault: Vault, tmp_path: Path) -> None:
    if db_target.backend == "postgres" and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump not installed")
    dest = tmp_path / "vault.backup"
    r = _cli(settings, "backup", "create", str(dest))
    assert r.returncode == 0, r.stderr
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    [made] = await _entries(vault, "backup.create")
    assert made.detail == f"sha256={digest} bytes={dest.stat().st_size}" and made.role == "operator"
    await vault.db.dispose()
    r = _cli(settings, "backup", "restore", str(dest))
    assert r.returncode == 0, r.stderr
    restored = await _entries(vault, "backup.restore")
    assert restored[-1].detail is not None and restored[-1].detail.startswith(f"sha256={digest}")
    async with vault.db.read() as session:
        assert (await verify_chain(session)).ok


async def test_cli_impact_writes_the_notification_list_and_inspection_prints_json(
    settings: Settings, vault: Vault, tmp_path: Path,
) -> None:
    import json

    actor = Actor(uuid.uuid4(), "cli-scope", "application", key_prefix="cvk_0000beef")
    touched = uuid.uuid4()
    await vault.audit.record_durable(AuditEvent("customer.read", Outcome.ALLOWED, actor, purpose="service_delivery",
                                                customer_id=touched, fields=("email", "name")))
    out = tmp_path / "notify.csv"
    r = _cli(settings, "audit", "impact", "--key", "cvk_0000beef", "--detected-at", "2026-11-20T09:00:00+09:00",
             "--out", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["customer_count"] == 1 and doc["categories"] == {"contact": 1, "identity": 1}
    assert doc["notify_authority_by"] == "2026-11-23T00:00:00+00:00"
    assert str(touched) in out.read_text()
    r = _cli(settings, "audit", "impact", "--key", "cvk_0000beef", "--principal", str(actor.principal_id))
    assert r.returncode == 1 and "exactly one" in r.stderr
    r = _cli(settings, "audit", "inspection", datetime.now(UTC).astimezone(KST).strftime("%Y-%m"))
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["sha256"]) == 64
