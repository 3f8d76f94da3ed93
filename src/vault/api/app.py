"""Litestar app factory."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from vault.api.admin import AuditController, PrincipalController, PurposeController
from vault.api.consents import ConsentController, ContactController, CustomerConsentController
from vault.api.customers import CustomerController
from vault.api.deps import KeyCache, provide_caller, provide_principal
from vault.api.errors import EXCEPTION_HANDLERS
from vault.api.limits import RequestLimits
from vault.api.notes import NoteController
from vault.api.pii import PiiController
from vault.api.quality import QualityFlagController
from vault.api.rights import RequestController, SubjectController
from vault.bootstrap import Vault, open_vault
from vault.config import Settings, get_settings
from vault.detection.pool import DetectionPool


@get("/health", operation_id="Health", exclude_from_auth=True, tags=["health"])
async def health(state: State) -> dict[str, Any]:
    """Liveness and database reachability."""
    vault: Vault = state.vault
    async with vault.db.read() as session:
        from sqlalchemy import text

        await session.execute(text("SELECT 1"))
    return {"status": "ok", "database": "postgresql" if vault.db.is_postgres else "sqlite"}


def create_app(settings: Settings | None = None, vault: Vault | None = None) -> Litestar:
    """Build the app. With ``vault`` given (tests), it is used as is and not closed on shutdown."""
    cfg = settings or get_settings()
    owned = vault is None

    async def startup(app: Litestar) -> None:
        app.state.vault = vault if vault is not None else await open_vault(cfg)
        app.state.key_cache = KeyCache()
        app.state.pii = DetectionPool(cfg.limits.detection_processes)

    async def shutdown(app: Litestar) -> None:
        pool: DetectionPool | None = getattr(app.state, "pii", None)
        if pool is not None:
            pool.close()
        v: Vault = app.state.vault
        if owned:
            await v.close()
        else:
            await v.audit.drain()

    logging.getLogger("vault").setLevel(logging.INFO)
    return Litestar(
        route_handlers=[health, CustomerController, PrincipalController, AuditController, PurposeController,
                        CustomerConsentController, ConsentController, ContactController, PiiController,
                        NoteController, RequestController, SubjectController, QualityFlagController],
        dependencies={"principal": Provide(provide_principal), "caller": Provide(provide_caller)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[lambda app: RequestLimits(app, max_header_bytes=cfg.api.max_header_bytes,
                                              max_url_bytes=cfg.api.max_url_bytes)],
        on_startup=[startup],
        on_shutdown=[shutdown],
        openapi_config=OpenAPIConfig(title="Customer Vault", version="0.1.0", path="/schema"),
        request_max_body_size=cfg.api.max_body_bytes,
        debug=False,
    )
