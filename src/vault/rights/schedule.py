"""Retention on a schedule (GDPR 5(1)(e), PIPA 21(1): destroy without delay once retention ends).

``vault serve`` starts :func:`run_retention_every` in each worker. Every interval it runs the
retention service as the ``scheduler`` operator; the run and each erasure are audited and
journaled by the service. A failing run is logged and retried at the next interval; it never
stops the server. Several workers may run it: a customer already erased by another run is
skipped by the shredder (only rows that still hold a DEK are targets).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from vault.access.caller import Caller
from vault.lib.periodic import every

if TYPE_CHECKING:
    from vault.rights.retention import RetentionReport
    from vault.rights.runner import RetentionJob

log = logging.getLogger("vault.retention")
SCHEDULER = Caller(None, purpose="legal_claims", operator="scheduler")


async def run_retention_every(service: RetentionJob, every_s: float, *, mode: str = "erase") -> None:
    """Run retention every ``every_s`` seconds until cancelled; a failed run is logged and retried next time."""

    async def tick() -> None:
        report: RetentionReport = await service.run(SCHEDULER, mode=mode)
        log.info("scheduled retention run: %d due, %d %sd, %d with fields past retention, %d holds", len(report.due),
                 report.applied, mode, len(report.fields_due), len(report.held))

    await every(every_s, tick, on_error=lambda exc: log.error("scheduled retention run failed", exc_info=exc))
