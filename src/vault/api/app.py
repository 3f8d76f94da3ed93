"""Litestar app factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import Any

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from vault.access.failures import AuthFailures
from vault.api import hot
from vault.api.admin import AuditController, PrincipalController, PurposeController
from vault.api.analytics import ExtractController, ProjectController, StatsController
from vault.api.auth import ApiKeyAuthentication, KeyCache
from vault.api.consent_notifications import ConsentNotificationController, ResultsDueController
from vault.api.consents import ConsentController, ContactController, CustomerConsentController
from vault.api.customers import CustomerController
from vault.api.deps import provide_caller
from vault.api.errors import EXCEPTION_HANDLERS
from vault.api.limits import RequestLimits, RestoreGate
from vault.api.notes import NoteController
from vault.api.openapi import ProblemResponses
from vault.api.oversight import ImpactController, InspectionController
from vault.api.pii import PiiController
from vault.api.provisions import ProvisionController
from vault.api.quality import QualityFlagController
from vault.api.rights import RequestController, SubjectController
from vault.api.segments import CustomerLabelController, InteractionController, SegmentController
from vault.audit.schedule import CheckpointSchedule
from vault.bootstrap import Vault, build_detector, open_vault
from vault.config import Settings, get_settings
from vault.detection.pool import DetectionPool
from vault.rights.schedule import run_retention_every
from vault.web import VendoredSwaggerPlugin, security_headers, web_handlers


@get("/health", operation_id="Health", exclude_from_auth=True, tags=["health"])
async def health(state: State) -> dict[str, Any]:
    """Liveness and database reachability."""
    vault: Vault = state.vault
    async with vault.db.read() as session:
        from sqlalchemy import text

        await session.execute(text("SELECT 1"))
    return {"status": "ok", "database": "postgresql" if vault.db.is_postgres else "sqlite"}


async def _watch_replay(app: Litestar, every: float = 60.0) -> None:
    """Re-check whether the erasure journal is applied (a restore may happen while the service runs)."""
    while True:
        await asyncio.sleep(every)
        try:
            app.state.unreplayed = await app.state.vault.rights().unreplayed()
        except Exception:  # keep the last answer; the next round tries again
            logging.getLogger("vault.api").warning("erasure journal check failed")


async def _flush_auth_failures(app: Litestar, every: float = 15.0) -> None:
    """Write the finished minutes of failed authentications as aggregated audit entries."""
    while True:
        await asyncio.sleep(every)
        failures: AuthFailures = app.state.auth_failures
        if failures.due():
            try:
                await failures.flush(app.state.vault.audit)
            except Exception:  # the audit log is unavailable: keep counting, try again next round
                logging.getLogger("vault.api").warning("failed-authentication entries could not be written yet")


#: The young generation's threshold in a serving process (CPython's default is 700 net new container objects).
SERVE_GC_GEN0 = 10_000


def create_served_app() -> Litestar:
    """The app ``vault serve`` runs in each worker: :func:`create_app`, and once it has started, its start-up
    objects frozen out of the cyclic collector (``gc.freeze``) and a larger young generation.

    The process holds a few hundred thousand long-lived objects after start-up (modules, SQLAlchemy and
    Litestar structures, the policies): every full collection walked them all, which cost about 0.1 ms of CPU
    per read on average and pauses of tens to hundreds of milliseconds (the p99 of paced reads). A request's
    own objects die young; with 32 requests in flight the default threshold of 700 ran a young collection
    every few requests. Measured in process over 30,000 reads (tests/bench/profile_read.py's loop, loaded
    machine): 3.1 s of collector time with CPython's defaults, 0.16 s with both changes.
    """
    app = create_app()
    app.on_startup.append(_settle_collector)
    return app


def _settle_collector(_app: Litestar) -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(SERVE_GC_GEN0, *gc.get_threshold()[1:])


def create_app(settings: Settings | None = None, vault: Vault | None = None) -> Litestar:
    """Build the app. With ``vault`` given (tests), it is used as is and not closed on shutdown."""
    cfg = settings or get_settings()
    owned = vault is None

    async def startup(app: Litestar) -> None:
        app.state.vault = vault if vault is not None else await open_vault(cfg)
        app.state.key_cache = KeyCache()
        app.state.unreplayed = await app.state.vault.rights().unreplayed()
        if app.state.unreplayed:
            logging.getLogger("vault.api").error(
                "%d erased customers are back in the database: refusing /v1 until `vault rights replay-erasures`",
                app.state.unreplayed)
        app.state.replay_watch = asyncio.create_task(_watch_replay(app), name="erasure-replay-watch")
        app.state.auth_failures = AuthFailures(per_minute=cfg.limits.auth_failures_per_minute)
        app.state.auth_flusher = asyncio.create_task(_flush_auth_failures(app), name="auth-failures-flush")
        app.state.checkpoints = None
        if cfg.audit.checkpoint_every_seconds > 0:
            v: Vault = app.state.vault
            where = cfg.audit.checkpoint_dir or cfg.var_dir / "checkpoints"
            schedule = CheckpointSchedule(v.db, v.keyring.audit_signer, where,
                                          every_seconds=cfg.audit.checkpoint_every_seconds,
                                          every_entries=cfg.audit.checkpoint_every_entries)
            app.state.checkpoints = asyncio.create_task(schedule.run(), name="audit-checkpoints")
        app.state.pii = DetectionPool(cfg.limits.detection_processes)
        app.state.analysts = app.state.vault.analysts(build_detector)
        every = cfg.rights.retention_every_s
        app.state.retention_task = None if not every else asyncio.create_task(
            run_retention_every(app.state.vault.retention(), every, mode=cfg.rights.retention_mode),
            name="retention-schedule")

    async def shutdown(app: Litestar) -> None:
        task: asyncio.Task[None] | None = app.state.retention_task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for name in ("checkpoints", "replay_watch"):
            background: asyncio.Task[None] | None = getattr(app.state, name, None)
            if background is not None:
                background.cancel()
                await asyncio.gather(background, return_exceptions=True)
        flusher: asyncio.Task[None] | None = getattr(app.state, "auth_flusher", None)
        if flusher is not None:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
            await app.state.auth_failures.flush(app.state.vault.audit, everything=True)
        pool: DetectionPool | None = getattr(app.state, "pii", None)
        if pool is not None:
            pool.close()
        v: Vault = app.state.vault
        # Jobs still running are reported as interrupted once their heartbeat goes stale; wait a little.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(app.state.analysts.jobs.wait(), timeout=30)
        if owned:
            await v.close()
        else:
            await v.audit.drain()

    logging.getLogger("vault").setLevel(logging.INFO)
    app = Litestar(
        route_handlers=[health, CustomerController, PrincipalController, AuditController, PurposeController,
                        CustomerConsentController, ConsentController, ContactController, PiiController,
                        NoteController, RequestController, SubjectController, ImpactController,
                        InspectionController, ProvisionController, QualityFlagController, ProjectController,
                        ExtractController, StatsController,
                        ConsentNotificationController, ResultsDueController,
                        SegmentController, CustomerLabelController, InteractionController,
                        *web_handlers()],
        before_send=[security_headers],
        dependencies={"caller": Provide(provide_caller)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[lambda app: RequestLimits(app, max_header_bytes=cfg.api.max_header_bytes,
                                              max_url_bytes=cfg.api.max_url_bytes),
                    RestoreGate, ApiKeyAuthentication],
        on_startup=[startup],
        on_shutdown=[shutdown],
        plugins=[ProblemResponses()],
        openapi_config=OpenAPIConfig(title="Customer Vault", version="0.1.0", path="/schema",
                                     render_plugins=[VendoredSwaggerPlugin()]),
        request_max_body_size=cfg.api.max_body_bytes,
        debug=False,
    )
    hot.install(app, max_header_bytes=cfg.api.max_header_bytes, max_url_bytes=cfg.api.max_url_bytes,
                max_body_bytes=cfg.api.max_body_bytes)
    return app
