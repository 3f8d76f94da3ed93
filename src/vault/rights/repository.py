"""The SQL of the requests registry (:class:`vault.rights.requests.RequestRegistry`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import case, select

from vault.customers.models import CustomerRow
from vault.rights.deadlines import OPEN
from vault.rights.models import RightsRequestRow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


class RequestStore(Protocol):
    """Where the registry keeps requests (the SQL repository below; tests use an in-memory one)."""

    async def customer_exists(self, customer_id: uuid.UUID) -> bool:
        """Whether a customer record (live or a tombstone) has this id."""
        ...

    async def add(self, row: RightsRequestRow) -> None:
        """Insert a new request (flushed, so it is visible to the same transaction)."""
        ...

    async def get(self, request_id: uuid.UUID) -> RightsRequestRow | None:
        """One request, its changes tracked by the transaction."""
        ...

    async def page(self, *, now: datetime, status: str | None, customer_id: uuid.UUID | None, limit: int,
                   offset: int) -> list[RightsRequestRow]:
        """Requests, overdue open ones first, then open ones by due date, then closed ones.

        ``status``: None (all), ``open``, ``overdue`` or one stored status.
        """
        ...


class RequestRepository:
    """:class:`RequestStore` on a SQLAlchemy session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def customer_exists(self, customer_id: uuid.UUID) -> bool:
        """Whether a customer record has this id."""
        return await self._session.get(CustomerRow, customer_id) is not None

    async def add(self, row: RightsRequestRow) -> None:
        """Insert a new request."""
        self._session.add(row)
        await self._session.flush()

    async def get(self, request_id: uuid.UUID) -> RightsRequestRow | None:
        """One request."""
        return await self._session.get(RightsRequestRow, request_id)

    async def page(self, *, now: datetime, status: str | None, customer_id: uuid.UUID | None, limit: int,
                   offset: int) -> list[RightsRequestRow]:
        """Requests, overdue first (see :class:`RequestStore`)."""
        is_open = RightsRequestRow.status.in_(OPEN)
        q = select(RightsRequestRow).order_by(
            case((is_open & (RightsRequestRow.due_at < now), 0), (is_open, 1), else_=2),
            RightsRequestRow.due_at, RightsRequestRow.id).limit(limit).offset(offset)
        if status == "overdue":
            q = q.where(is_open, RightsRequestRow.due_at < now)
        elif status == "open":
            q = q.where(is_open)
        elif status is not None:
            q = q.where(RightsRequestRow.status == status)
        if customer_id is not None:
            q = q.where(RightsRequestRow.customer_id == customer_id)
        return list((await self._session.scalars(q)).all())
