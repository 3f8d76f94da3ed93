"""The consent ledger the access layer asks: who has a current consent for a purpose, and if not, why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, exists, func, select, true

from vault.consent.models import ConsentStateRow
from vault.consent.rules import Kind, Reason, State, grant_cutoff, why_not
from vault.customers.models import CustomerRow
from vault.lib.clock import utcnow
from vault.policy.purposes import LawfulBasis

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.policy.purposes import Purpose

Clock = Callable[[], datetime]
_IN_CHUNK = 500


def effective_clause(purpose: Purpose, at: datetime, state: Any = ConsentStateRow, *,
                     residual: bool = False) -> ColumnElement[bool]:
    """SQL: ``state`` (ConsentStateRow or an alias of it) is a current grant of ``purpose`` at ``at``.

    ``residual=True`` wraps granted_at in COALESCE so no planner uses the granted_at index for it: contact
    resolution must walk the (purpose, channel, status, customer_id) index in keyset order, and SQLite
    without statistics would otherwise pick the granted_at range and sort every page.
    """
    clause = and_(state.purpose == purpose.id, state.status == Kind.GRANTED.value)
    if purpose.min_notice_version is not None:  # grants under an older notice no longer count: re-consent
        clause = and_(clause, state.notice_version.in_(purpose.accepted_versions))
    cutoff = grant_cutoff(purpose, at)
    if cutoff is not None:
        granted = func.coalesce(state.granted_at, state.granted_at) if residual else state.granted_at
        clause = and_(clause, granted > cutoff)
    return clause


def basis_clause(purpose: Purpose, at: datetime) -> ColumnElement[bool]:
    """SQL over ``customers``: the customer has a lawful basis for ``purpose`` at ``at``.

    For a consent-based purpose that is a current grant (the same rule as :meth:`SqlConsentLedger.consenting`,
    as one correlated EXISTS, so a bulk reader needs no per-page IN lists); any other basis holds for everyone.
    """
    if purpose.lawful_basis is not LawfulBasis.CONSENT:
        return true()
    return exists().where(ConsentStateRow.customer_id == CustomerRow.id, effective_clause(purpose, at))


class SqlConsentLedger:
    """Answers from ``consent_state``; ``clock`` gives "now" (injectable for tests)."""

    def __init__(self, clock: Clock = utcnow) -> None:
        self._clock = clock

    async def consenting(self, session: AsyncSession, customer_ids: Sequence[UUID], purpose: Purpose) -> set[UUID]:
        """The subset of ``customer_ids`` with a current consent (on any channel) for ``purpose``."""
        out: set[UUID] = set()
        ids = list(dict.fromkeys(customer_ids))
        at = self._clock()
        for i in range(0, len(ids), _IN_CHUNK):
            found = await session.scalars(
                select(ConsentStateRow.customer_id).where(
                    effective_clause(purpose, at), ConsentStateRow.customer_id.in_(ids[i:i + _IN_CHUNK])))
            out.update(found.all())
        return out

    async def explain(self, session: AsyncSession, customer_id: UUID, purpose: Purpose) -> str:
        """Why ``customer_id`` has no current consent for ``purpose``: a :class:`Reason` value."""
        at = self._clock()
        rows = (await session.scalars(select(ConsentStateRow).where(
            ConsentStateRow.customer_id == customer_id, ConsentStateRow.purpose == purpose.id))).all()
        reasons = [why_not(purpose, State(r.status, r.granted_at, r.updated_at), at) for r in rows]
        if not reasons:
            return Reason.NEVER_GRANTED.value
        # Several channels: report the most telling one (withdrawn before expired before refused).
        for reason in (Reason.WITHDRAWN, Reason.EXPIRED, Reason.UNVERIFIED, Reason.REFUSED, Reason.NEVER_GRANTED):
            if reason in reasons:
                return reason.value
        return Reason.NEVER_GRANTED.value
