"""An HTTP client over the real Litestar app, bound to the module's vault."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from vault.api.app import create_app
from vault.bootstrap import Vault
from vault.config import Settings


@pytest.fixture(scope="module")
async def client(vault: Vault, settings: Settings) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    # The app builds its own vault in its lifespan: the test client may run it on another event loop,
    # and asyncpg connections are bound to the loop that made them. ``vault`` (the test's own) only
    # guarantees the database and its system keys exist first.
    del vault
    app = create_app(settings)
    async with AsyncTestClient(app=app) as c:
        yield c
