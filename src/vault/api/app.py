"""Litestar app factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from vault.api.admin import AuditController, PrincipalController, PurposeController
from vault.api.analytics import ExtractController, ProjectController, StatsController
from vault.api.consents import ConsentController, ContactController, CustomerConsentController
from vault.api.customers import CustomerController
from vault.api.deps import KeyCache, provide_caller
from vault.api.errors import EXCEPTION_HANDLERS
from vault.api.notes import NoteController
from vault.api.openapi import ProblemResponses
from vault.api.oversight import ImpactController, InspectionController
from vault.api.pii import PiiController
from vault.api.provisions import ProvisionController
from vault.api.quality import QualityFlagController
from vault.api.rights import RequestController, SubjectController
from vault.api.segments import CustomerLabelController, InteractionController, SegmentController
from vault.bootstrap import Vault, build_detector, open_vault
from vault.config import Settings, get_settings
from vault.web import VendoredSwaggerPlugin, security_headers, web_handlers


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
        app.state.pii = None
        app.state.pii_lock = asyncio.Lock()
        app.state.analysts = app.state.vault.analysts(build_detector)

    async def shutdown(app: Litestar) -> None:
        v: Vault = app.state.vault
        # Jobs still running are reported as interrupted once their heartbeat goes stale; wait a little.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(app.state.analysts.jobs.wait(), timeout=30)
        if owned:
            await v.close()
        else:
            await v.audit.drain()

    logging.getLogger("vault").setLevel(logging.INFO)
    return Litestar(
        route_handlers=[health, CustomerController, PrincipalController, AuditController, PurposeController,
                        CustomerConsentController, ConsentController, ContactController, PiiController,
                        NoteController, RequestController, SubjectController, ImpactController,
                        InspectionController, ProvisionController, QualityFlagController, ProjectController,
                        ExtractController, StatsController, SegmentController, CustomerLabelController,
                        InteractionController,
                        *web_handlers()],
        before_send=[security_headers],
        dependencies={"caller": Provide(provide_caller)},
        exception_handlers=EXCEPTION_HANDLERS,
        on_startup=[startup],
        on_shutdown=[shutdown],
        plugins=[ProblemResponses()],
        openapi_config=OpenAPIConfig(title="Customer Vault", version="0.1.0", path="/schema",
                                     render_plugins=[VendoredSwaggerPlugin()]),
        request_max_body_size=cfg.api.max_body_bytes,
        debug=False,
    )
