"""Shared fixtures: a fresh vault per test module on SQLite and, when
VAULT_TEST_DATABASE_URL is set, on PostgreSQL too (a new database each time,
made with `alembic upgrade head` and dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from vault.access.principals import Principal
from vault.audit.entry import Actor
from vault.bootstrap import Vault, open_vault
from vault.config import CryptoSettings, PolicySettings, RightsSettings, Settings
from vault.crypto.keys import generate_key_file, load_key_file
from vault.db.engine import Database, sync_url
from vault.db.migrate import upgrade_head
from vault.keys.store import ensure_system_keys

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("VAULT_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])
ROLES = ("application", "analyst", "marketing", "sales", "crm_agent", "compliance_officer", "admin")


@dataclass
class DbTarget:
    """A fresh database for one test module."""

    backend: str
    url: str


def _admin_url() -> str:
    assert PG_URL
    return sync_url(make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False))


@pytest.fixture(scope="module", params=BACKENDS)
def db_target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbTarget]:
    """A new, migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "vault.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade_head(url)
        yield DbTarget("sqlite", url)
        return
    assert PG_URL
    name = f"vault_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_head(url)
        yield DbTarget("postgres", url)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def settings(db_target: DbTarget, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at the module's database and a fresh key file."""
    var = tmp_path_factory.mktemp("var")
    kek = var / "keys" / "kek.json"
    generate_key_file(kek)
    return Settings(
        database_url=db_target.url, var_dir=var,
        crypto=CryptoSettings(kek_file=kek),  # type: ignore[call-arg]
        policy=PolicySettings(directory=ROOT / "policies"),  # type: ignore[call-arg]
        rights=RightsSettings(erasure_journal=var / "erasure-journal.jsonl"),  # type: ignore[call-arg]
    )


@pytest.fixture(scope="module")
async def vault(settings: Settings) -> AsyncIterator[Vault]:
    """An open vault with system keys (module-scoped)."""
    db = Database(settings.database_url)
    async with db.write() as session:
        await ensure_system_keys(session, load_key_file(settings.crypto.kek_file))
    await db.dispose()
    v = await open_vault(settings)
    yield v
    await v.close()


@dataclass
class Creds:
    """A principal and its API key."""

    principal: Principal
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture(scope="module")
async def principals(vault: Vault) -> dict[str, Creds]:
    """One service principal per built-in role."""
    out: dict[str, Creds] = {}
    async with vault.db.write() as session:
        svc = vault.principals(session)
        for role in ROLES:
            p, key = await svc.create(f"test-{role}-{uuid.uuid4().hex[:6]}", role, Actor.cli("tests"))
            assert key is not None
            out[role] = Creds(p, key.secret)
    return out
