"""/v1/audit/impact and /v1/audit/inspections: breach scoping and the monthly log inspection.

Compliance officers only (``audit:read``; signing an inspection off needs ``audit:signoff``).
The web console shows the same documents; see docs/compliance.md for their shape.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, MediaType, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from vault.access.caller import Caller
from vault.api.deps import vault_of
from vault.audit.impact import ImpactQuery


class SignOff(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/audit/inspections/{month}/signoff."""

    report_sha256: str
    conclusion: Literal["no_findings", "findings_followed_up"]


class ImpactController(Controller):
    """Which customers a principal, an API key or a KEK version touched (GDPR 33/34, PIPA 34)."""

    path = "/v1/audit/impact"
    tags = ["audit"]

    @staticmethod
    def _query(principal_id: uuid.UUID | None, key_prefix: str | None, kek_version: str | None,
               since: datetime | None, until: datetime | None, detected_at: datetime | None) -> ImpactQuery:
        return ImpactQuery(principal_id, key_prefix, kek_version, since, until, detected_at)

    @get("/", operation_id="AuditImpact")
    async def impact(
        self, caller: NamedDependency[Caller], state: State,
        principal_id: FromQuery[uuid.UUID | None] = None,
        key_prefix: Annotated[str | None, QueryParameter(max_length=32)] = None,
        kek_version: Annotated[str | None, QueryParameter(max_length=40)] = None,
        since: FromQuery[datetime | None] = None, until: FromQuery[datetime | None] = None,
        detected_at: FromQuery[datetime | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100_000)] = 10_000,
    ) -> dict[str, Any]:
        """Affected customers, data categories and counts, with the 72-hour notification clock.

        Exactly one of ``principal_id``, ``key_prefix`` or ``kek_version``; ``detected_at`` (when the
        breach became known) starts the clock, default now. Bulk entries count every subject.
        """
        q = self._query(principal_id, key_prefix, kek_version, since, until, detected_at)
        return (await vault_of(state).oversight().impact(q, caller)).as_dict(limit=limit)

    @get("/notification-list", operation_id="AuditImpactNotificationList", media_type="text/csv")
    async def notification_list(
        self, caller: NamedDependency[Caller], state: State,
        principal_id: FromQuery[uuid.UUID | None] = None,
        key_prefix: Annotated[str | None, QueryParameter(max_length=32)] = None,
        kek_version: Annotated[str | None, QueryParameter(max_length=40)] = None,
        since: FromQuery[datetime | None] = None, until: FromQuery[datetime | None] = None,
        detected_at: FromQuery[datetime | None] = None,
    ) -> Response[str]:
        """The notification list as CSV: one row per affected customer, with the authority deadline."""
        q = self._query(principal_id, key_prefix, kek_version, since, until, detected_at)
        report = await vault_of(state).oversight().impact(q, caller)
        return Response(report.notification_csv(), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="notification-list.csv"'})


class InspectionController(Controller):
    """The monthly access-log inspection and its sign-off (safety-measures standard art. 8)."""

    path = "/v1/audit/inspections"
    tags = ["audit"]

    @get("/{month:str}", operation_id="GetInspection", media_type=MediaType.JSON)
    async def get_inspection(self, month: FromPath[str], caller: NamedDependency[Caller],
                             state: State) -> dict[str, Any]:
        """The report for ``month`` (YYYY-MM, KST): bulk downloads, off-hours access, denial spikes,
        grant changes, key and backup operations; ``sha256`` is what a sign-off names."""
        return (await vault_of(state).oversight().inspection(month, caller)).as_dict()

    @post("/{month:str}/signoff", operation_id="SignOffInspection", status_code=201)
    async def sign_off(self, month: FromPath[str], data: JSONBody[SignOff], caller: NamedDependency[Caller],
                       state: State) -> dict[str, Any]:
        """Sign the month's report off; 409 when it changed since ``report_sha256`` was read."""
        report = await vault_of(state).oversight().sign_off(month, data.report_sha256, data.conclusion, caller)
        return report.as_dict()
