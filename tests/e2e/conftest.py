"""Browser tests: a real uvicorn server (one per test module) on a free port against the module's test vault,
driven by Playwright through Debian's chromium (never a downloaded browser).

The server runs as `vault serve` in a subprocess with the module's settings in its environment, so it is the
same process shape as `make run`. Screenshots go to ``tests/e2e/screenshots/`` (git-ignored);
the happy-path ones are copied to docs/console/ by hand when the pages change.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vault.bootstrap import Vault
from vault.config import Settings

CHROMIUM = Path(os.environ.get("VAULT_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
]
SHOTS = Path(__file__).parent / "screenshots"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(settings: Settings) -> dict[str, str]:
    """The environment that makes `vault serve` use the module's test vault."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    env.update({
        "VAULT_DATABASE_URL": settings.database_url,
        "VAULT_VAR_DIR": str(settings.var_dir),
        "VAULT_CRYPTO__KEK_FILE": str(settings.crypto.kek_file),
        "VAULT_POLICY__DIRECTORY": str(settings.policy.directory),
        "VAULT_RIGHTS__ERASURE_JOURNAL": str(settings.rights.erasure_journal),
        "VAULT_CONSOLE__SECURE_COOKIES": "never",  # plain http://127.0.0.1 in tests
    })
    return env


@pytest.fixture(scope="module")
def server(vault: Vault, settings: Settings) -> Iterator[str]:
    """Base URL of a real `vault serve` (uvicorn) on a free port; stopped after the module."""
    del vault  # the database is migrated and has its system keys
    port = _free_port()
    log = settings.var_dir / "server.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vault.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env(settings), stdout=fh, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        text = log.read_text(errors="replace")
        if "Traceback" in text or "ERROR" in text:  # visible in CI's log even when pytest captures output
            print(f"\n--- {log} (tail) ---\n{text[-4000:]}", file=sys.__stderr__)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[object]:
    """One headless chromium per module."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


def shot_path(name: str) -> Path:
    """Where a test saves the screenshot ``name`` (PNG)."""
    SHOTS.mkdir(exist_ok=True)
    return SHOTS / f"{name}.png"


def keep_shot(name: str) -> None:
    """Copy a happy-path screenshot to docs/console/ when VAULT_UPDATE_SCREENSHOTS=1."""
    if os.environ.get("VAULT_UPDATE_SCREENSHOTS") == "1":
        dest = Path(__file__).resolve().parents[2] / "docs" / "console"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot_path(name), dest / f"{name}.png")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every browser test ``e2e`` (select with ``-m e2e``, skip with ``-m 'not e2e'``)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
async def people(vault: Vault) -> dict[str, str]:
    """One console login (person principal with a password) per role: role -> name. Password: PASSWORD."""
    import uuid

    from vault.audit.entry import Actor

    out: dict[str, str] = {}
    async with vault.db.write() as session:
        svc = vault.principals(session)
        for role in ("compliance_officer", "admin", "analyst", "marketing", "sales", "crm_agent", "application"):
            name = f"{role}-{uuid.uuid4().hex[:4]}"
            await svc.create(name, role, Actor.cli("tests"), kind="person", password=PASSWORD, with_key=False)
            out[role] = name
    return out


async def log_in(page: Any, server: str, name: str, password: str = PASSWORD) -> None:
    """Fill the login form and submit it."""
    await page.goto(f"{server}/console/login")
    await page.fill("#name", name)
    await page.fill("#password", password)
    await page.click("#login")
    await page.wait_for_load_state()
