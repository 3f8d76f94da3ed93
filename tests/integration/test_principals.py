"""Principals: people log in with argon2 passwords, repeated failures lock the account, all audited."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from vault.access.errors import AccountLockedError, DuplicatePrincipalError, InvalidCredentialsError
from vault.access.models import ApiKeyRow, PrincipalRow
from vault.access.principals import login
from vault.audit.entry import Actor
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.errors import InvalidInputError

ADMIN = Actor.cli("tests")


async def test_login_lockout_and_audit(vault: Vault) -> None:
    name = f"officer-{uuid.uuid4().hex[:6]}"
    password = "correct horse battery staple"
    async with vault.db.write() as session:
        p, key = await vault.principals(session).create(name, "compliance_officer", ADMIN, kind="person",
                                                       password=password, with_key=False)
    assert key is None
    async with vault.db.write() as session:
        row = await session.get(PrincipalRow, p.id)
        assert row is not None
        assert row.password_hash is not None
        assert row.password_hash.startswith("$argon2id$")
        assert password not in row.password_hash
    roles = vault.roles
    assert (await login(vault.db, vault.audit, roles, name, password, client_ip="127.0.0.9")).id == p.id
    for _ in range(5):
        with pytest.raises(InvalidCredentialsError):
            await login(vault.db, vault.audit, roles, name, "wrong password!!", client_ip="127.0.0.9")
    async with vault.db.read() as session:
        row = await session.get(PrincipalRow, p.id)
        assert row is not None
        assert row.locked_until is not None  # the failures were committed although each login raised
    with pytest.raises(AccountLockedError):
        await login(vault.db, vault.audit, roles, name, password)  # even the right password, while locked
    with pytest.raises(InvalidCredentialsError):
        await login(vault.db, vault.audit, roles, "nobody-" + name, password)
    async with vault.db.read() as session:
        entries = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.action == "auth.login", AuditEntryRow.principal_id == p.id))).all()
    outcomes = [e.outcome for e in entries]
    assert outcomes.count("allowed") == 1
    assert outcomes.count("denied") == 6
    assert all(password not in (e.detail or "") for e in entries)


async def test_keys_are_stored_hashed_with_visible_prefix(vault: Vault) -> None:
    async with vault.db.write() as session:
        p, key = await vault.principals(session).create(f"svc-{uuid.uuid4().hex[:6]}", "application", ADMIN)
    assert key is not None
    assert key.secret.startswith(key.prefix + "_")
    async with vault.db.read() as session:
        rows = (await session.scalars(select(ApiKeyRow).where(ApiKeyRow.principal_id == p.id))).all()
        assert [r.prefix for r in rows] == [key.prefix]
        assert key.secret.encode() not in rows[0].secret_hash
        audit = (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.action == "key.issue"))).all()
        assert any(key.prefix in (a.detail or "") for a in audit)
        assert all(key.secret not in (a.detail or "") for a in audit)
    async with vault.db.read() as session:
        assert (await vault.principals(session).authenticate_key(key.secret)).id == p.id
        with pytest.raises(InvalidCredentialsError):
            await vault.principals(session).authenticate_key(key.secret[:-1] + "x")


async def test_principal_validation(vault: Vault) -> None:
    name = f"dup-{uuid.uuid4().hex[:6]}"
    async with vault.db.write() as session:
        await vault.principals(session).create(name, "analyst", ADMIN)
    with pytest.raises(DuplicatePrincipalError):
        async with vault.db.write() as session:
            await vault.principals(session).create(name, "analyst", ADMIN)
    with pytest.raises(InvalidInputError):
        async with vault.db.write() as session:
            await vault.principals(session).create("short-pw", "analyst", ADMIN, kind="person", password="short")
