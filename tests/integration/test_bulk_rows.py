"""Issue 13 (bulk import): rows that cannot conflict go by binary COPY on PostgreSQL (vault.db.bulk.insert_new_rows).

The COPY path must store exactly what the ``INSERT ... SELECT FROM unnest`` path stores (constants included),
and run inside the caller's transaction: a COPY issued before asyncpg opened the transaction would commit on
its own, so rows would survive the rollback of a failed import batch.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from vault.bootstrap import Vault
from vault.db.bulk import BulkInsert, BulkValues, Column, insert_new_rows, insert_rows

COLUMNS = (Column("id", "uuid"), Column("digest", "bytea"), Column("at", "timestamptz"), Column("n", "integer"),
           Column("note", "text"))
CONSTANT = (("source", "'import'", "'import'", "import"),)


class RolledBackError(Exception):
    pass


async def _table(vault: Vault, name: str) -> BulkInsert:
    pg = vault.db.is_postgres
    async with vault.db.write() as session:
        conn = await session.connection()
        await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        await conn.exec_driver_sql(
            f"CREATE TABLE {name} (id {'uuid' if pg else 'CHAR(32)'} PRIMARY KEY, digest {'bytea' if pg else 'BLOB'}, "
            f"at {'timestamptz' if pg else 'DATETIME'}, n integer, note text, source text NOT NULL)")
    return BulkInsert(name, COLUMNS, CONSTANT)


def _rows(to: BulkValues, n: int) -> list[tuple[object, ...]]:
    at = datetime(2026, 12, 5, 12, 30, 1, 123456, tzinfo=UTC)
    return [(to.uuid_hex(uuid.uuid4().hex), bytes([i]) * 32, to.when(at), i, None if i % 2 else f"노트 {i}")
            for i in range(n)]


async def _stored(vault: Vault, table: str) -> list[tuple[object, ...]]:
    async with vault.db.read() as session:
        rows = (await session.execute(text(f"SELECT id, digest, at, n, note, source FROM {table} ORDER BY n"))).all()
    return [tuple(r) for r in rows]


async def test_copied_rows_equal_inserted_rows(vault: Vault) -> None:
    a, b = await _table(vault, "bulk_probe_a"), await _table(vault, "bulk_probe_b")
    async with vault.db.write() as session:
        conn = await session.connection()
        to = BulkValues(conn.dialect.name)
        rows = _rows(to, 50)
        assert await insert_rows(conn, a, rows) == 50
        assert await insert_new_rows(conn, b, rows) == 50  # on PostgreSQL: COPY (asyncpg is in a transaction)
    stored = await _stored(vault, "bulk_probe_a")
    assert len(stored) == 50 and stored == await _stored(vault, "bulk_probe_b")
    assert {r[5] for r in stored} == {"import"}


@pytest.mark.parametrize("first", [True, False])
async def test_copied_rows_roll_back_with_the_transaction(vault: Vault, first: bool) -> None:
    """``first``: the bulk insert is the transaction's first statement (asyncpg has not begun it yet)."""
    table = await _table(vault, "bulk_probe_c")

    async def failing_batch() -> None:
        async with vault.db.write() as session:
            conn = await session.connection()
            if not first:
                await conn.exec_driver_sql("SELECT 1")
            assert await insert_new_rows(conn, table, _rows(BulkValues(conn.dialect.name), 20)) == 20
            raise RolledBackError

    with pytest.raises(RolledBackError):
        await failing_batch()
    assert await _stored(vault, "bulk_probe_c") == []
