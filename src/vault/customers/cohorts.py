"""Recorded membership of statute cohorts (table ``customer_cohorts``): which customers a statute covers.

A statute permits collecting a statute-only field (the RRN) only for the customers it covers
(statutes.yaml ``covers``, e.g. prize winners for prize withholding tax). Membership is recorded,
audited, by whoever establishes it (a compliance officer naming the draw, an import of a winners'
list under the statute purpose); ``all_customers`` needs no record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from vault.customers.models import CustomerCohortRow
from vault.policy.statutes import Cohort

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession


class SqlCohortMembers:
    """:class:`vault.policy.collection.CohortMembers` over the ``customer_cohorts`` table."""

    async def members(self, session: AsyncSession, cohort: Cohort,
                      customer_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """The customers among ``customer_ids`` in ``cohort``."""
        if cohort is Cohort.ALL_CUSTOMERS:
            return set(customer_ids)
        out: set[uuid.UUID] = set()
        ids = list(customer_ids)
        for i in range(0, len(ids), 500):
            out.update((await session.scalars(select(CustomerCohortRow.customer_id).where(
                CustomerCohortRow.cohort == cohort.value, CustomerCohortRow.customer_id.in_(ids[i:i + 500])))).all())
        return out

    async def record(self, session: AsyncSession, customer_ids: Sequence[uuid.UUID], cohort: Cohort,
                     reference: str, recorded_by: str, now: datetime) -> None:
        """Record ``customer_ids`` as members of ``cohort`` (members already recorded keep their record)."""
        if cohort is Cohort.ALL_CUSTOMERS or not customer_ids:
            return
        known = await self.members(session, cohort, customer_ids)
        session.add_all(CustomerCohortRow(customer_id=cid, cohort=cohort.value, reference=reference,
                                          recorded_by=recorded_by, recorded_at=now)
                        for cid in dict.fromkeys(customer_ids) if cid not in known)
        await session.flush()
