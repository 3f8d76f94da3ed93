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
    app = create_app(settings, vault=vault)
    async with AsyncTestClient(app=app) as c:
        yield c
