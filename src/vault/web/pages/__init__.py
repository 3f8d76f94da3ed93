"""Console pages, one module per screen."""

from __future__ import annotations

from vault.web.pages.audit import AuditController
from vault.web.pages.consent import ConsentProofController
from vault.web.pages.dashboard import DashboardController
from vault.web.pages.extracts import ExtractRegistryController
from vault.web.pages.requests import RequestQueueController
from vault.web.pages.reviews import ReviewController
from vault.web.pages.segments import SegmentController

PAGE_CONTROLLERS = [DashboardController, AuditController, ReviewController, ConsentProofController,
                    RequestQueueController, SegmentController, ExtractRegistryController]

__all__ = ["PAGE_CONTROLLERS"]
