"""Oversight use cases for compliance officers: breach scoping and the monthly log inspection.

Both read the audit log (``vault.audit.impact`` and ``vault.audit.inspection`` do the work);
this service adds what the log alone does not know (the field catalogue's data categories,
the customers whose DEK a KEK version wraps), checks the caller's permission and audits every
use: ``audit.impact``, ``audit.inspection`` and the sign-off ``audit.inspection_signoff``.

:class:`OversightService` works on the (read) session it is given; :class:`vault.rights.runner.OversightRunner`
opens the transactions: one per use case, and for a sign-off a second one that reads the report again, so the
report shown includes the sign-off just made durable (on SQLite the first transaction's snapshot predates it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.audit.impact import ImpactQuery, ImpactReport, scope_from_log, scope_of_key_version
from vault.audit.inspection import InspectionReport, InspectionSettings, build_inspection, signoff_event
from vault.customers.models import CustomerRow
from vault.errors import VaultError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.db.engine import Database
    from vault.policy.catalogue import FieldCatalogue


@dataclass(frozen=True)
class OversightDeps:
    """Collaborators of :class:`OversightService` (``db``: only :class:`~vault.rights.runner.OversightRunner`)."""

    db: Database
    catalogue: FieldCatalogue
    guard: Guard
    audit: AuditLog
    inspection: InspectionSettings
    log_retention_days: int


class OversightService:
    """Breach impact and monthly inspections on one read session (the caller opens it)."""

    def __init__(self, session: AsyncSession, deps: OversightDeps) -> None:
        self._session = session
        self._d = deps

    def _categories(self) -> dict[str, str]:
        return {f.name: str(f.field_class) for f in self._d.catalogue.fields()}

    async def impact(self, query: ImpactQuery, caller: Caller) -> ImpactReport:
        """Which customers a principal, key or KEK version touched in a window (audited ``audit.impact``).

        Raises:
            PermissionDeniedError: the caller may not read the audit log.
            BadRequestError: not exactly one scope, or an empty window.
        """
        await self._d.guard.require_any_purpose(caller, perms.AUDIT_READ, "audit.impact")
        query.validate()
        session = self._session
        if query.kek_version is not None:
            stmt = select(CustomerRow.id, CustomerRow.created_at).where(CustomerRow.kek_version == query.kek_version)
            if query.until is not None:
                stmt = stmt.where(CustomerRow.created_at < query.until)
            rows = [(r[0], r[1]) for r in (await session.execute(stmt.order_by(CustomerRow.id))).all()]
            report = scope_of_key_version(query, rows, self._categories())
        else:
            report = await scope_from_log(session, query, self._categories())
        window = f"since={_ts(query.since)} until={_ts(query.until)}"
        await self._d.audit.record_durable(AuditEvent(
            "audit.impact", Outcome.ALLOWED, caller.actor, request_id=caller.request_id, client_ip=caller.client_ip,
            subject_count=len(report.customers), detail=f"scope={report.scope} {window}"))
        return report

    async def inspection(self, month: str, caller: Caller) -> InspectionReport:
        """The monthly inspection report for ``month`` (``YYYY-MM``, KST; audited ``audit.inspection``)."""
        await self._d.guard.require_any_purpose(caller, perms.AUDIT_READ, "audit.inspection")
        report = await self.report(month)
        await self._d.audit.record_durable(AuditEvent(
            "audit.inspection", Outcome.ALLOWED, caller.actor, request_id=caller.request_id,
            client_ip=caller.client_ip, detail=f"month={month} report_sha256={report.sha256}"))
        return report

    async def report(self, month: str) -> InspectionReport:
        """The monthly inspection report for ``month`` as it stands (not audited: the use cases above are)."""
        return await build_inspection(self._session, month, self._d.inspection,
                                      retention_days=self._d.log_retention_days)

    async def sign_off(self, month: str, report_sha256: str, conclusion: str, caller: Caller) -> None:
        """Sign the month's report off (compliance officer): an audit entry naming the report's digest, durable
        when this returns (read the report again in a new transaction to show it signed).

        Raises:
            PermissionDeniedError: the caller may not sign inspections off.
            InspectionMismatchError: the report is no longer the one with ``report_sha256``.
        """
        await self._d.guard.require_any_purpose(caller, perms.AUDIT_SIGNOFF, SIGNOFF_ACTION)
        report = await self.report(month)
        try:
            event = signoff_event(report, report_sha256, conclusion, caller.actor, request_id=caller.request_id,
                                  client_ip=caller.client_ip)
        except VaultError as exc:
            await self._d.guard.deny(caller, SIGNOFF_ACTION, exc, context=f"month={month}")
        await self._d.audit.record_durable(event)


SIGNOFF_ACTION = "audit.inspection_signoff"


def _ts(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else "-"
