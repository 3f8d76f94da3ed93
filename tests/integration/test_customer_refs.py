"""The children of customers that the bulk import writes name existing customers (issue 13, migration 0011refs).

SQLite checks them with foreign keys; PostgreSQL with statement-level triggers (a per-row foreign-key check
was about 40% of the server's work in an import). Both must refuse the same statements: rows naming a
missing customer (a whole statement, even with good rows in it), a child moved to a missing customer, a
customer deleted while consent records name it, a referenced customer's id changed; and deleting a customer
still takes its blind-index and quality-flag rows with it.
"""

from __future__ import annotations

import csv
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from vault.access.caller import Caller
from vault.bootstrap import Vault
from vault.consent.models import ConsentEventRow, ConsentStateRow
from vault.customers.importer import HEADER
from vault.customers.models import customer_index_table, customers_table, quality_flags_table

OP = Caller(None, purpose="service_delivery", operator="tests")
EVENTS = ConsentEventRow.__table__
STATES = ConsentStateRow.__table__
assert isinstance(EVENTS, Table) and isinstance(STATES, Table)
AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
REFUSED = r"(?i)foreign key|do not exist|does not exist|without their customer|other rows name"


async def _import(vault: Vault, tmp_path: Path, *, consents: bool) -> uuid.UUID:
    ref = f"refs-{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{ref}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerow([ref, "", f"{ref}@example.org", "010-2222-3333", "", "", "", "", "", "", "",
                    *(("y", "n", "", "y") if consents else ("", "", "", ""))])
    report = await vault.importer().run(path, OP, keep_ids=True)
    assert report.created == 1, report.errors
    return report.created_ids[0]


def _children(cid: uuid.UUID) -> list[tuple[Table, dict[str, Any]]]:
    return [
        (customer_index_table, {"field": "email", "digest": uuid.uuid4().bytes * 2, "customer_id": cid,
                                "key_version": 1}),
        (quality_flags_table, {"customer_id": cid, "field": "phone", "code": "test_code", "flagged_at": AT}),
        (EVENTS, {"id": uuid.uuid4(), "customer_id": cid, "purpose": "analytics", "channel": "", "kind": "granted",
                  "source": "import", "actor_name": "tests", "actor_role": "operator", "occurred_at": AT,
                  "recorded_at": AT}),
        (STATES, {"customer_id": cid, "purpose": "marketing_email", "channel": "email", "status": "refused",
                  "event_id": uuid.uuid4(), "updated_at": AT}),
    ]


async def _count(vault: Vault, table: Table, cid: uuid.UUID) -> int:
    async with vault.db.read() as session:
        return int((await session.execute(
            select(func.count()).select_from(table).where(table.c.customer_id == cid))).scalar_one())


async def _refused(vault: Vault, statement: Any, params: Any = None) -> None:
    async def run() -> None:
        async with vault.db.write() as session:
            await session.execute(statement, params)

    with pytest.raises(DBAPIError, match=REFUSED):
        await run()


async def test_rows_naming_a_missing_customer_are_refused_per_statement(vault: Vault, tmp_path: Path) -> None:
    known = await _import(vault, tmp_path, consents=False)  # two blind-index rows, nothing else
    missing = uuid.uuid4()
    for (table, good), (_, bad) in zip(_children(known), _children(missing), strict=True):
        await _refused(vault, insert(table), [bad])
        await _refused(vault, insert(table), [good, bad])  # the good row goes with the statement
        assert await _count(vault, table, known) == (2 if table is customer_index_table else 0)
        assert await _count(vault, table, missing) == 0
    async with vault.db.write() as session:  # the same rows naming a stored customer are accepted
        for table, good in _children(known):
            await session.execute(insert(table), [good])
    for table, _ in _children(known):
        assert await _count(vault, table, known) == (3 if table is customer_index_table else 1)


async def test_children_cannot_move_to_a_missing_customer(vault: Vault, tmp_path: Path) -> None:
    cid = await _import(vault, tmp_path, consents=True)
    for table in (customer_index_table, STATES):
        await _refused(vault, update(table).where(table.c.customer_id == cid).values(customer_id=uuid.uuid4()))
        assert await _count(vault, table, cid) > 0


async def test_deleting_customers_cascades_or_is_refused_like_the_foreign_keys(vault: Vault, tmp_path: Path) -> None:
    with_consents = await _import(vault, tmp_path, consents=True)
    await _refused(vault, delete(customers_table).where(customers_table.c.id == with_consents))
    await _refused(vault, update(customers_table).where(customers_table.c.id == with_consents).values(
        id=uuid.uuid4()))
    assert await _count(vault, EVENTS, with_consents) == 3
    plain = await _import(vault, tmp_path, consents=False)
    async with vault.db.write() as session:
        await session.execute(insert(quality_flags_table), [_children(plain)[1][1]])
    assert await _count(vault, customer_index_table, plain) == 2  # email and phone blind indexes
    async with vault.db.write() as session:
        await session.execute(delete(customers_table).where(customers_table.c.id == plain))
    assert await _count(vault, customer_index_table, plain) == 0
    assert await _count(vault, quality_flags_table, plain) == 0
