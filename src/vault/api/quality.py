"""/v1/quality-flags: data-quality flags for compliance officers."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import Parameter
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
        self, caller: Caller, session: AsyncSession, state: State,
        code: str | None = Parameter(default=None, max_length=60),
        field: str | None = Parameter(default=None, max_length=40),
        customer_id: uuid.UUID | None = None,
        cursor: str | None = Parameter(default=None, max_length=120),
        limit: int = Parameter(default=100, ge=1, le=1000),
    ) -> QualityFlagPage:
        """List flags (e.g. ``code=check_digit_unverified``), ordered by customer; cursor-paginated, audited."""
        flags = await vault_of(state).quality(session).list(
            caller, code=code, field=field, customer_id=customer_id,
            after=_cursor(cursor) if cursor else None, limit=limit)
        last = flags[-1] if len(flags) == limit else None
        return QualityFlagPage(items=[QualityFlagRead.from_domain(f) for f in flags],
                               next_cursor=f"{last.customer_id}:{last.field}:{last.code}" if last else None)
