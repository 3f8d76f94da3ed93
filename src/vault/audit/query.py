"""Reading the audit log (compliance officers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from vault.audit.models import AuditEntryRow, AuditSubjectRow

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Filters for :func:`search`; all optional, combined with AND."""

    principal_id: UUID | None = None
    customer_id: UUID | None = None
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def search(
    session: AsyncSession, flt: AuditFilter, *, after_seq: int = 0, limit: int = 100
) -> list[AuditEntryRow]:
    """Entries matching ``flt`` with ``seq > after_seq``, oldest first (cursor pagination)."""
    q = select(AuditEntryRow).where(AuditEntryRow.seq > after_seq)
    if flt.principal_id is not None:
        q = q.where(AuditEntryRow.principal_id == flt.principal_id)
    if flt.customer_id is not None:
        q = q.where(or_(
            AuditEntryRow.customer_id == flt.customer_id,
            AuditEntryRow.seq.in_(select(AuditSubjectRow.seq).where(AuditSubjectRow.customer_id == flt.customer_id)),
        ))
    if flt.action is not None:
        q = q.where(AuditEntryRow.action == flt.action)
    if flt.outcome is not None:
        q = q.where(AuditEntryRow.outcome == flt.outcome)
    if flt.since is not None:
        q = q.where(AuditEntryRow.ts >= flt.since)
    if flt.until is not None:
        q = q.where(AuditEntryRow.ts < flt.until)
    return list((await session.scalars(q.order_by(AuditEntryRow.seq).limit(limit))).all())
