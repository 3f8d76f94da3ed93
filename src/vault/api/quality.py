"""/v1/quality-flags: data-quality flags for compliance officers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from vault.access.caller import Caller
from vault.api.deps import provide_read_session, vault_of
from vault.customers.quality import QualityFlag
from vault.errors import BadRequestError


class QualityFlagRead(msgspec.Struct, kw_only=True):
    """A flag on one field of a customer (no value): ``check_digit_unverified`` on ``rrn``, ..."""

    customer_id: uuid.UUID
    field: str
    code: str
    flagged_at: datetime

    @classmethod
    def from_domain(cls, f: QualityFlag) -> QualityFlagRead:
        """Convert a domain flag."""
        return cls(customer_id=f.customer_id, field=f.field, code=f.code, flagged_at=f.flagged_at)


class QualityFlagPage(msgspec.Struct, kw_only=True):
    """A page of flags; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[QualityFlagRead]
    next_cursor: str | None


def _cursor(raw: str) -> tuple[uuid.UUID, str, str]:
    try:
        cid, fld, code = raw.split(":", 2)
        return uuid.UUID(cid), fld, code
    except ValueError:
        raise BadRequestError("cursor must be the next_cursor of a previous page") from None


class QualityFlagController(Controller):
    """Values accepted but not fully verifiable, for compliance officers to confirm."""

    path = "/v1/quality-flags"
    tags = ["quality"]

    @get("/", operation_id="ListQualityFlags", dependencies={"session": Provide(provide_read_session)})
    async def list_flags(
        self, caller: NamedDependency[Caller], session: NamedDependency[AsyncSession], state: State,
        code: Annotated[str | None, QueryParameter(max_length=60)] = None,
        field: Annotated[str | None, QueryParameter(max_length=40)] = None,
        customer_id: FromQuery[uuid.UUID | None] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=120)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> QualityFlagPage:
        """List flags (e.g. ``code=check_digit_unverified``), ordered by customer; cursor-paginated, audited."""
        flags = await vault_of(state).quality(session).list(
            caller, code=code, field=field, customer_id=customer_id,
            after=_cursor(cursor) if cursor else None, limit=limit)
        last = flags[-1] if len(flags) == limit else None
        return QualityFlagPage(items=[QualityFlagRead.from_domain(f) for f in flags],
                               next_cursor=f"{last.customer_id}:{last.field}:{last.code}" if last else None)
