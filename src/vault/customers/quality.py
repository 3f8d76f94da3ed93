"""Data-quality flags: values the vault accepted but could not fully verify.

A flag names a customer, a field and a code, never the value. Today's one code
is ``check_digit_unverified``: a resident/foreigner registration number whose
check digit does not match. Since October 2020 numbers are issued and
re-issued with random back digits, so such a number is kept (refusing it would
refuse real customers), and a compliance officer can list the flagged
customers and confirm the numbers with them. Flags are written with the value
(import, create, update, rectification) and replaced whenever the field
changes; erasure removes them with the customer's other data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, tuple_

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.customers.models import QualityFlagRow, quality_flags_table
from vault.errors import InvalidInputError
from vault.policy.normalize import CHECK_DIGIT_UNVERIFIED

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.policy.catalogue import FieldCatalogue

#: Every flag code the vault writes, with what it means (for listings and docs).
CODES: dict[str, str] = {
    CHECK_DIGIT_UNVERIFIED: "registration number accepted without a matching check digit "
                            "(re-issued since October 2020, or mistyped)",
}


@dataclass(frozen=True, slots=True)
class QualityFlag:
    """One flag: which customer, which field, what is doubtful, since when (no value)."""

    customer_id: uuid.UUID
    field: str
    code: str
    flagged_at: datetime


def flag_rows(catalogue: FieldCatalogue, customer_id: uuid.UUID, values: Mapping[str, str],
              now: datetime) -> list[dict[str, Any]]:
    """Rows to insert for the flags of normalized ``values`` of one customer."""
    return [{"customer_id": customer_id, "field": name, "code": code, "flagged_at": now}
            for name, code in catalogue.quality(values)]


async def insert_flags(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert flag rows (one statement)."""
    if rows:
        await session.execute(insert(quality_flags_table), list(rows))


async def replace_flags(session: AsyncSession, catalogue: FieldCatalogue, customer_id: uuid.UUID,
                        changed: Mapping[str, str | None], now: datetime) -> None:
    """Re-derive the flags of the ``changed`` fields of one customer (None: the field was removed)."""
    if not changed:
        return
    await session.execute(delete(QualityFlagRow).where(
        QualityFlagRow.customer_id == customer_id, QualityFlagRow.field.in_(list(changed))))
    await insert_flags(session, flag_rows(
        catalogue, customer_id, {k: v for k, v in changed.items() if v is not None}, now))


class QualityService:
    """Lists data-quality flags for compliance officers (permission ``quality:read``), audited."""

    def __init__(self, session: AsyncSession, guard: Guard, audit: AuditLog) -> None:
        self._session = session
        self._guard = guard
        self._audit = audit

    async def list(self, caller: Caller, *, code: str | None = None, field: str | None = None,
                   customer_id: uuid.UUID | None = None, after: tuple[uuid.UUID, str, str] | None = None,
                   limit: int = 100) -> list[QualityFlag]:
        """Flags ordered by (customer, field, code), ``after`` being the last one of the previous page.

        Raises:
            AccessDeniedError: the caller's role lacks ``quality:read`` (the denial is audited).
            InvalidInputError: an unknown ``code``.
        """
        await self._guard.require_any_purpose(caller, perms.QUALITY_READ, "quality.list")
        if code is not None and code not in CODES:
            raise InvalidInputError(f"unknown flag code {code!r}; known codes: {', '.join(CODES)}",
                                    fields=["code"])
        q = select(QualityFlagRow).order_by(
            QualityFlagRow.customer_id, QualityFlagRow.field, QualityFlagRow.code).limit(limit)
        if code is not None:
            q = q.where(QualityFlagRow.code == code)
        if field is not None:
            q = q.where(QualityFlagRow.field == field)
        if customer_id is not None:
            q = q.where(QualityFlagRow.customer_id == customer_id)
        if after is not None:
            q = q.where(tuple_(QualityFlagRow.customer_id, QualityFlagRow.field, QualityFlagRow.code) > after)
        rows = (await self._session.scalars(q)).all()
        flags = [QualityFlag(r.customer_id, r.field, r.code, r.flagged_at) for r in rows]
        await self._audit.record_durable(AuditEvent(
            "quality.list", Outcome.ALLOWED, caller.actor, customer_id=customer_id, request_id=caller.request_id,
            client_ip=caller.client_ip, subjects=tuple(dict.fromkeys(f.customer_id for f in flags)),
            detail=f"{len(flags)} flags" + (f" with code {code}" if code else "")))
        return flags
