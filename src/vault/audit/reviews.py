"""Monthly access reviews: a reviewer signs off one principal's month of activity (audited, once)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, String, Text, UniqueConstraint, Uuid, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from vault.audit.entry import AuditEvent, Outcome
from vault.audit.stats import NIGHT_HOURS_KST, month_bounds, monthly_activity
from vault.db.base import Base
from vault.errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError
from vault.lib.clock import as_utc, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.audit.entry import Actor
    from vault.audit.log import AuditLog

# A ticket or case reference, not free text: the vault stores no personal data outside sealed fields.
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./#-]{0,39}")


class AccessReviewRow(Base):
    """A signed-off monthly review of one principal (the figures as they were when signed)."""

    __tablename__ = "access_reviews"
    __table_args__ = (UniqueConstraint("principal_id", "month", name="uq_access_reviews_principal_month"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    principal_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    month: Mapped[str] = mapped_column(String(7))
    reviewer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reviewer_name: Mapped[str] = mapped_column(String(100))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decision: Mapped[str] = mapped_column(String(20))  # approved | follow_up
    reference: Mapped[str | None] = mapped_column(String(40), default=None)
    summary: Mapped[str] = mapped_column(Text)  # JSON: reads, denials, bulk, night, flags


class ReviewNotFoundError(NotFoundError):
    """No activity for that principal in that month."""

    code = "review.not_found"
    title = "Nothing to review"


class ReviewAlreadySignedError(ConflictError):
    """The month was signed off already."""

    code = "review.already_signed"
    title = "Review already signed off"


class SelfReviewError(AccessDeniedError):
    """Nobody signs off their own access."""

    code = "review.self_review"
    title = "Own review"


@dataclass(frozen=True, slots=True)
class SignOff:
    """A recorded sign-off."""

    id: uuid.UUID
    principal_id: uuid.UUID
    month: str
    reviewer_name: str
    signed_at: datetime
    decision: str
    reference: str | None
    summary: dict[str, object]


def _view(row: AccessReviewRow) -> SignOff:
    return SignOff(row.id, row.principal_id, row.month, row.reviewer_name, as_utc(row.signed_at), row.decision,
                   row.reference, json.loads(row.summary))


class ReviewService:
    """Sign off monthly access reviews and list the sign-offs."""

    def __init__(self, session: AsyncSession, audit: AuditLog, *,
                 night_hours: frozenset[int] = NIGHT_HOURS_KST) -> None:
        self._session = session
        self._audit = audit
        self._night = night_hours

    async def signed(self, month: str) -> dict[uuid.UUID, SignOff]:
        """Sign-offs of ``month`` by reviewed principal."""
        rows = (await self._session.scalars(select(AccessReviewRow).where(AccessReviewRow.month == month))).all()
        return {r.principal_id: _view(r) for r in rows}

    async def sign_off(self, principal_id: uuid.UUID, month: str, reviewer: Actor, *, decision: str = "approved",
                       reference: str | None = None) -> SignOff:
        """Sign off ``principal_id``'s ``month``: the figures are frozen into the sign-off and the entry audited.

        Raises:
            InvalidInputError, ReviewNotFoundError, SelfReviewError, ReviewAlreadySignedError.
        """
        try:
            month_bounds(month)
        except ValueError:
            raise InvalidInputError("month must be YYYY-MM") from None
        if decision not in ("approved", "follow_up"):
            raise InvalidInputError("decision must be 'approved' or 'follow_up'")
        if reference and not REFERENCE.fullmatch(reference):
            raise InvalidInputError("reference must be a ticket id: letters, digits and _ . / # -, at most 40")
        if reviewer.principal_id == principal_id:
            raise SelfReviewError("a reviewer may not sign off their own access")
        activity = await monthly_activity(self._session, month, principal_id=principal_id,
                                          night_hours=self._night)
        if not activity:
            raise ReviewNotFoundError(f"principal {principal_id} has no activity in {month}")
        pm = activity[0]
        summary: dict[str, object] = {
            "reads": pm.reads, "denials": pm.denials, "bulk_reads": pm.bulk_reads,
            "off_hours_reads": pm.off_hours_reads, "restricted": pm.restricted_touches, "flags": pm.flags,
            "usual_reads": pm.usual_reads,
        }
        row = AccessReviewRow(id=uuid.uuid4(), principal_id=principal_id, month=month,
                              reviewer_id=reviewer.principal_id, reviewer_name=reviewer.name, signed_at=utcnow(),
                              decision=decision, reference=reference or None,
                              summary=json.dumps(summary, sort_keys=True))
        self._session.add(row)
        try:
            await self._session.flush()
        except IntegrityError as exc:
            raise ReviewAlreadySignedError(f"the {month} review of principal {principal_id} is signed off") from exc
        await self._audit.record(self._session, AuditEvent(
            "review.signoff", Outcome.ALLOWED, reviewer,
            detail=f"principal={principal_id} month={month} decision={decision} ref={reference or '-'} "
                   f"flags={','.join(pm.flags) or '-'}"))
        return _view(row)
