"""Customer storage: every SQL statement of the customer use cases, with driver errors translated here.

:class:`CustomerRepository` works on the caller's session (it flushes, never commits).
:class:`CustomerStore` is the protocol the use cases depend on, so they are unit-tested
against an in-memory fake (``tests/unit/customers``).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Protocol, cast

from sqlalchemy import bindparam, delete, insert, or_, select
from sqlalchemy.exc import IntegrityError

from vault.customers import records
from vault.customers.errors import DuplicateCustomerError
from vault.customers.models import (
    CustomerIndexRow,
    CustomerRow,
    IdempotencyRow,
    customer_index_table,
    customers_table,
)
from vault.customers.quality import replace_flags
from vault.db.bulk import BulkInsert, BulkValues, Column, insert_new_rows, insert_rows

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.crypto.envelope import CustomerKey
    from vault.crypto.keyring import Keyring
    from vault.db.engine import Database
    from vault.policy.catalogue import FieldCatalogue

__all__ = ["CustomerRepository", "CustomerStore", "apply_changes", "insert_new_customers"]

# Built once: the hot read and the create reuse the statements and their compiled forms (Core tables, not
# the ORM bulk-insert path).
_BY_ID = select(customers_table).where(customers_table.c.id == bindparam("cid"))
_INSERT_CUSTOMER = insert(customers_table)
_INSERT_INDEX = insert(customer_index_table)


class CustomerStore(Protocol):
    """What the customer use cases need from storage."""

    async def fetch(self, customer_id: uuid.UUID) -> CustomerRow | None:
        """The row (read-only; may be a Core row with the same attributes), or None."""
        ...

    async def get(self, customer_id: uuid.UUID) -> CustomerRow | None:
        """The row to change (tracked by the session), or None."""
        ...

    async def add(self, sealed: records.SealedCustomer) -> None:
        """Insert a sealed new customer and its blind indexes.

        Raises:
            DuplicateCustomerError: the customer_ref is taken.
        """
        ...

    async def find_indexed(self, field: str, digests: Sequence[bytes], *, limit: int) -> list[CustomerRow]:
        """Customers whose blind index for ``field`` is one of ``digests``."""
        ...

    async def idempotent(self, principal_id: uuid.UUID, key: str) -> IdempotencyRow | None:
        """The replay record of an Idempotency-Key, if any."""
        ...

    async def remember(self, record: IdempotencyRow) -> None:
        """Store a replay record (with the create it belongs to)."""
        ...

    async def save_changes(self, keyring: Keyring, catalogue: FieldCatalogue, row: CustomerRow, key: CustomerKey,
                           changed: dict[str, str | None], now: datetime) -> None:
        """Apply field changes to ``row`` and persist them (see :func:`apply_changes`)."""
        ...

    async def flush(self) -> None:
        """Persist changes made to tracked rows."""
        ...


class CustomerRepository:
    """Customer SQL on one session. ``db``, when given, serves point reads outside the session (fast path)."""

    def __init__(self, session: AsyncSession, db: Database | None = None) -> None:
        self._session = session
        self._db = db

    async def fetch(self, customer_id: uuid.UUID) -> CustomerRow | None:
        """The row by primary key: a read-only Core row on the fast path, else the session's ORM row."""
        if self._db is None:
            return await self._session.get(CustomerRow, customer_id)
        row = await self._db.fetch_one(_BY_ID, {"cid": customer_id})
        return cast("CustomerRow | None", row)  # a Core row with the same attribute names, read-only

    async def get(self, customer_id: uuid.UUID) -> CustomerRow | None:
        """The row, tracked by the session (to change it)."""
        return await self._session.get(CustomerRow, customer_id)

    async def add(self, sealed: records.SealedCustomer) -> None:
        """Insert the customer, its blind indexes and quality flags (driver-level statements, no savepoint).

        Raises:
            DuplicateCustomerError: the customer_ref (unique ``ref_digest``) is taken.
        """
        # ON CONFLICT DO NOTHING instead of a savepoint around the insert: a taken customer_ref inserts
        # nothing and is reported, and the transaction stays usable (two statements fewer per create).
        conn = await self._session.connection()
        to = BulkValues(conn.dialect.name)
        r = sealed.row
        cid = to.uuid(r["id"])
        if not await insert_rows(conn, _NEW_CUSTOMERS, [(
                cid, r["ref_digest"], r["kek_version"], r["wrapped_dek"], r["sealed"], to.when(r["created_at"]),
                to.when(r["updated_at"]), r["index_version"])]):
            raise DuplicateCustomerError("a customer with this customer_ref already exists")
        await insert_rows(conn, _NEW_INDEX, [(i["field"], i["digest"], cid, i["key_version"])
                                             for i in sealed.index_rows])
        await insert_rows(conn, _NEW_FLAGS, [(cid, f["field"], f["code"], to.when(f["flagged_at"]))
                                             for f in sealed.flag_rows])

    async def find_indexed(self, field: str, digests: Sequence[bytes], *, limit: int) -> list[CustomerRow]:
        """Customers found through ``field``'s blind index (customer_ref also through ``ref_digest``)."""
        indexed = select(CustomerIndexRow.customer_id).where(
            CustomerIndexRow.field == field, CustomerIndexRow.digest.in_(digests))
        if field == "customer_ref":
            q = select(CustomerRow).where(or_(CustomerRow.ref_digest.in_(digests), CustomerRow.id.in_(indexed)))
        else:
            q = select(CustomerRow).where(CustomerRow.id.in_(indexed))
        return list((await self._session.scalars(q.limit(limit))).all())

    async def idempotent(self, principal_id: uuid.UUID, key: str) -> IdempotencyRow | None:
        """The replay record of ``key`` sent by ``principal_id``."""
        return await self._session.get(IdempotencyRow, (principal_id, key))

    async def remember(self, record: IdempotencyRow) -> None:
        """Add a replay record to the transaction (replacing an expired one with the same key)."""
        await self._session.merge(record)

    async def save_changes(self, keyring: Keyring, catalogue: FieldCatalogue, row: CustomerRow, key: CustomerKey,
                           changed: dict[str, str | None], now: datetime) -> None:
        """See :func:`apply_changes`."""
        await apply_changes(self._session, keyring, catalogue, row, key, changed, now)

    async def flush(self) -> None:
        """Flush tracked changes."""
        await self._session.flush()


async def apply_changes(
    session: AsyncSession, keyring: Keyring, catalogue: FieldCatalogue, row: CustomerRow, key: CustomerKey,
    changed: dict[str, str | None], now: datetime,
) -> None:
    """Reseal changed fields (None removes one), stamp them verified, bump the row version, rebuild their
    blind indexes under the current index key and their data-quality flags, and flush. One path for
    updates and rectifications.

    Raises:
        DuplicateCustomerError: the new customer_ref belongs to another customer.
    """
    if not changed:
        return
    row.sealed = records.reseal(key, row.sealed, changed)
    meta = dict(row.field_meta or {})
    for name, value in changed.items():
        if value is None:
            meta.pop(name, None)
        else:
            meta[name] = {"verified_at": now.isoformat()}
    row.field_meta = meta
    row.updated_at = now
    row.row_version += 1
    idx = keyring.index
    ref = changed.get("customer_ref")
    if ref is not None:
        row.ref_digest = idx.digest("customer_ref", ref)
    for name, value in changed.items():
        if not catalogue[name].searchable:
            continue
        # Every key version's digests go, including customer_ref ones an index-key rotation put here.
        await session.execute(delete(CustomerIndexRow).where(
            CustomerIndexRow.customer_id == row.id, CustomerIndexRow.field == name))
        if value is not None and name != "customer_ref":
            session.add(CustomerIndexRow(field=name, digest=idx.digest(name, value), customer_id=row.id,
                                         key_version=idx.version))
    await replace_flags(session, catalogue, row.id, changed, now)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise DuplicateCustomerError("another customer already has this customer_ref") from exc


_NEW_CUSTOMERS = BulkInsert(
    "customers",
    (Column("id", "uuid"), Column("ref_digest", "bytea"), Column("kek_version", "text"), Column("wrapped_dek", "bytea"),
     Column("sealed", "bytea"), Column("created_at", "timestamptz"), Column("updated_at", "timestamptz"),
     Column("index_version", "integer")),
    constants=(("dek_version", "1", "1", 1), ("field_meta", "'{}'", "'{}'::json", "{}"),
               ("status", "'active'", "'active'", "active"), ("row_version", "1", "1", 1)),
    conflict="ref_digest")
_NEW_INDEX = BulkInsert("customer_index", (Column("field", "text"), Column("digest", "bytea"),
                                           Column("customer_id", "uuid"), Column("key_version", "integer")))
_NEW_FLAGS = BulkInsert("customer_quality_flags", (Column("customer_id", "uuid"), Column("field", "text"),
                                                   Column("code", "text"), Column("flagged_at", "timestamptz")))


async def insert_new_customers(session: AsyncSession, batch: records.SealedBatch, positions: Sequence[int],
                               now: datetime) -> list[int]:
    """Insert the customers of ``batch`` at ``positions`` (bulk import), skipping those whose customer_ref is
    already stored, with their blind indexes and quality flags; returns the positions actually inserted.
    Driver-level batches in the session's transaction (:mod:`vault.db.bulk`)."""
    conn = await session.connection()
    to = BulkValues(conn.dialect.name)
    when = to.when(now)
    ids = {p: to.uuid_hex(batch.hex_ids[p]) for p in positions}
    inserted = await insert_rows(conn, _NEW_CUSTOMERS, [
        (ids[p], batch.ref_digests[p], batch.kek_version, batch.wrapped[p], batch.sealed[p], when, when,
         batch.index_version) for p in positions])
    fresh = list(positions)
    if inserted < len(fresh):  # some customer_refs were already stored: keep the rows that went in
        stored: set[uuid.UUID] = set()
        wanted = [uuid.UUID(hex=batch.hex_ids[p]) for p in positions]
        for i in range(0, len(wanted), 500):
            stored.update((await session.scalars(
                select(CustomerRow.id).where(CustomerRow.id.in_(wanted[i:i + 500])))).all())
        fresh = [p for p in positions if uuid.UUID(hex=batch.hex_ids[p]) in stored]
    keep = set(fresh)
    # The customers just inserted are the only ones these rows name: nothing to conflict with (COPY on PostgreSQL).
    await insert_new_rows(conn, _NEW_INDEX, [(name, digest, ids[p], batch.index_version)
                                             for p, name, digest in batch.index_rows if p in keep])
    await insert_new_rows(conn, _NEW_FLAGS, [(ids[p], name, code, when)
                                             for p, name, code in batch.flag_rows if p in keep])
    return fresh
