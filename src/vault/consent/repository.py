"""Consent storage: events, current state, receipts. Every SQL statement of the consent use cases."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Insert, Select, Table, Update, and_, bindparam, insert, or_, select, tuple_, update

from vault.consent.models import ConsentEventRow, ConsentReceiptRow, ConsentStateRow
from vault.consent.rules import Kind, State
from vault.customers.models import CustomerRow
from vault.db.direct_sqlite import NotDirect, execute_on, fetch_on
from vault.db.inline_sqlite import sqlite3_of
from vault.lib.clock import as_utc

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy import Row, RowMapping
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.consent.views import Receipt

__all__ = ["ConsentRepository"]

# The write path's statements, built once on the Core tables (not the ORM bulk-insert path): a grant reuses
# them and their compiled forms.
_EVENTS = cast(Table, ConsentEventRow.__table__)
_STATES = cast(Table, ConsentStateRow.__table__)
_CUSTOMERS = cast(Table, CustomerRow.__table__)
_INSERT_EVENTS = insert(_EVENTS)
_INSERT_STATES = insert(_STATES)
_INSERT_RECEIPT = insert(cast(Table, ConsentReceiptRow.__table__))
_UPDATE_STATE = update(_STATES).where(
    _STATES.c.customer_id == bindparam("k_customer"), _STATES.c.purpose == bindparam("k_purpose"),
    _STATES.c.channel == bindparam("k_channel"))
_CUSTOMER = select(_CUSTOMERS).where(_CUSTOMERS.c.id == bindparam("cid"))
_CUSTOMER_LOCKED = _CUSTOMER.with_for_update()
_STATES_OF = select(_STATES).where(_STATES.c.customer_id == bindparam("cid"))


def _state_of(row: ConsentStateRow) -> State:
    return State(row.status, as_utc(row.granted_at) if row.granted_at else None, as_utc(row.updated_at),
                 row.notice_version, row.notice_hash)


class ConsentRepository:
    """Consent SQL on the caller's session (flushes, never commits).

    The statements of a grant run straight through sqlite3 on SQLite, in the session's transaction
    (:mod:`vault.db.direct_sqlite`), and through the session elsewhere.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._raw: tuple[object, sqlite3.Connection | None] | None = None

    async def _direct(self) -> sqlite3.Connection | None:
        sync = self._session.sync_session
        if sync.new or sync.dirty or sync.deleted:
            return None  # ORM changes pending: let the session flush them first
        tx = sync.get_transaction()
        if self._raw is None or tx is None or self._raw[0] is not tx:  # the connection of this transaction
            raw = await sqlite3_of(await self._session.connection())
            self._raw = (sync.get_transaction(), raw)
            return raw
        return self._raw[1]

    async def _fetch(self, statement: Select[Any], params: dict[str, Any]) -> list[Any]:
        raw = await self._direct()
        if raw is not None:
            return fetch_on(raw, statement, params)
        return list((await self._session.execute(statement, params)).all())

    async def _execute(self, statement: Insert | Update, rows: list[dict[str, Any]]) -> None:
        raw = await self._direct()
        if raw is not None:
            try:
                execute_on(raw, statement, rows)
                return
            except NotDirect:
                pass
        await self._session.execute(statement, rows)

    async def customer(self, customer_id: uuid.UUID, *, lock: bool = False) -> CustomerRow | None:
        """The customer row; ``lock`` serializes one customer's decisions (PostgreSQL row lock;
        SQLite's BEGIN IMMEDIATE already does)."""
        q = _CUSTOMER_LOCKED if lock and self._session.get_bind().dialect.name == "postgresql" else _CUSTOMER
        rows = await self._fetch(q, {"cid": customer_id})
        return cast("CustomerRow | None", rows[0] if rows else None)  # a Core row, same attribute names

    async def states(self, customer_id: uuid.UUID, purposes: set[str] | None = None,
                     ) -> dict[tuple[str, str], State]:
        """Current state per (purpose, channel) of one customer."""
        rows = await self._fetch(_STATES_OF, {"cid": customer_id})
        return {(r.purpose, r.channel): _state_of(cast("ConsentStateRow", r)) for r in rows
                if purposes is None or r.purpose in purposes}

    async def add_receipt(self, receipt: Receipt) -> None:
        """Store a signed receipt."""
        await self._execute(_INSERT_RECEIPT, [{
            "id": receipt.id, "customer_id": receipt.customer_id, "issued_at": receipt.issued_at,
            "key_id": receipt.key_id, "jws": receipt.jws}])

    async def add_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Append consent events (append-only: never updated)."""
        await self._execute(_INSERT_EVENTS, [dict(e) for e in events])

    async def write_states(self, new_states: Sequence[tuple[bool, Mapping[str, Any]]]) -> None:
        """Insert new (purpose, channel) states and update existing ones; ``(exists, values)`` pairs."""
        inserts = [s for exists, s in new_states if not exists]
        if inserts:
            await self._execute(_INSERT_STATES, [dict(i) for i in inserts])
        updates = [{"k_customer": s["customer_id"], "k_purpose": s["purpose"], "k_channel": s["channel"],
                    **{k: v for k, v in s.items() if k not in ("customer_id", "purpose", "channel")}}
                   for exists, s in new_states if exists]
        if updates:
            await self._execute(_UPDATE_STATE, updates)

    async def events_of(self, customer_id: uuid.UUID) -> Sequence[RowMapping]:
        """Every event of a customer, oldest first."""
        return (await self._session.execute(
            select(ConsentEventRow.__table__).where(ConsentEventRow.customer_id == customer_id)
            .order_by(ConsentEventRow.recorded_at, ConsentEventRow.id))).mappings().all()

    async def event_receipt(self, event_id: uuid.UUID) -> Row[uuid.UUID, uuid.UUID | None] | None:
        """(customer_id, receipt_id) of an event."""
        return (await self._session.execute(
            select(ConsentEventRow.customer_id, ConsentEventRow.receipt_id).where(ConsentEventRow.id == event_id)
        )).first()

    async def receipt(self, receipt_id: uuid.UUID) -> ConsentReceiptRow | None:
        """A stored receipt."""
        return await self._session.get(ConsentReceiptRow, receipt_id)

    async def granted_until(self, purpose_id: str, cutoff: datetime, *, limit: int) -> Sequence[RowMapping]:
        """Current grants of ``purpose_id`` given at or before ``cutoff`` (oldest first)."""
        return (await self._session.execute(
            select(ConsentStateRow.__table__).where(
                ConsentStateRow.purpose == purpose_id, ConsentStateRow.status == Kind.GRANTED.value,
                ConsentStateRow.granted_at <= cutoff)
            .order_by(ConsentStateRow.granted_at).limit(limit))).mappings().all()

    async def mark_expired(self, customer_id: uuid.UUID, purpose_id: str, channel: str, event_id: uuid.UUID,
                           lapsed: datetime) -> None:
        """Move one state to ``expired`` (the expiry event is added alongside)."""
        await self._session.execute(
            update(ConsentStateRow).where(
                ConsentStateRow.customer_id == customer_id, ConsentStateRow.purpose == purpose_id,
                ConsentStateRow.channel == channel)
            .values(status=Kind.EXPIRED.value, event_id=event_id, updated_at=lapsed))

    async def granted_between(
        self, windows: Sequence[tuple[str, datetime, datetime]], *,
        after: tuple[datetime, uuid.UUID, str, str] | None, limit: int,
    ) -> Sequence[Row[uuid.UUID, str, str, datetime | None]]:
        """Current grants with ``lo < granted_at <= hi`` for each (purpose, lo, hi), of active customers,
        keyset-paginated by (granted_at, customer, purpose, channel)."""
        clauses = [and_(ConsentStateRow.purpose == pid, ConsentStateRow.granted_at > lo,
                        ConsentStateRow.granted_at <= hi) for pid, lo, hi in windows]
        q = (select(ConsentStateRow.customer_id, ConsentStateRow.purpose, ConsentStateRow.channel,
                    ConsentStateRow.granted_at)
             .join(CustomerRow, CustomerRow.id == ConsentStateRow.customer_id)
             .where(ConsentStateRow.status == Kind.GRANTED.value, or_(*clauses), CustomerRow.status == "active",
                    CustomerRow.erased_at.is_(None))
             .order_by(ConsentStateRow.granted_at, ConsentStateRow.customer_id, ConsentStateRow.purpose,
                       ConsentStateRow.channel)
             .limit(limit))
        if after is not None:
            q = q.where(tuple_(ConsentStateRow.granted_at, ConsentStateRow.customer_id, ConsentStateRow.purpose,
                               ConsentStateRow.channel) > tuple_(*after))
        return (await self._session.execute(q)).all()
