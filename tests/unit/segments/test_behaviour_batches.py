"""The behaviour import's batches against an in-memory store: customer lookups once per ref, rejected rows by
line and field (never the value), idempotent inserts and one audit entry per batch (no database)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects import sqlite

from tests.unit.fakes import FakeAudit, caller, keyring
from vault.segments.behaviour import (
    INTERACTIONS,
    TRANSACTIONS,
    BehaviourBatches,
    BehaviourKind,
    BehaviourReport,
    CustomerRefs,
    RowError,
    convert,
    interaction_parser,
    parse_transaction,
    split,
)
from vault.segments.repository import BulkDriver

DRIVER = BulkDriver(sqlite.dialect())
INDEX = keyring().index
CLERK = caller("crm_agent", "service_delivery")


class FakeBehaviour:
    """Live customers by customer_ref digest; rows by their digest (a second insert of one is skipped)."""

    def __init__(self, refs: dict[str, uuid.UUID]) -> None:
        self.customers = {INDEX.digest("customer_ref", r): cid for r, cid in refs.items()}
        self.lookups: list[list[bytes]] = []
        self.rows: dict[bytes, tuple[Any, ...]] = {}

    async def customer_ids(self, ref_digests: list[bytes]) -> list[tuple[bytes, Any]]:
        self.lookups.append(list(ref_digests))
        return [(d, self.customers[d].hex) for d in ref_digests if d in self.customers]

    async def insert(self, kind: BehaviourKind, rows: list[tuple[Any, ...]]) -> int:
        del kind
        new = {digest(r): r for r in rows if digest(r) not in self.rows}
        self.rows.update(new)
        return len(new)


def digest(row: tuple[Any, ...]) -> bytes:
    """The row's content digest (its only bytes value, in either kind's driver form)."""
    return next(v for v in row if isinstance(v, bytes))


def tx(ref: str, amount: str = "12000", returned: str = "n", at: str = "2026-03-01T10:00:00+09:00") -> list[str]:
    return [ref, at, amount, "web", "shoes", returned]


async def run(store: FakeBehaviour, audit: FakeAudit, customers: CustomerRefs, report: BehaviourReport,
              chunk: list[tuple[int, list[str]] | RowError], kind: BehaviourKind = TRANSACTIONS,
              parse: Any = parse_transaction) -> list[tuple[Any, ...]]:
    batches = BehaviourBatches(None, audit, store)  # type: ignore[arg-type]
    batch = split(chunk, report)
    await batches.resolve(customers, batch)
    rows = convert(batch, parse, customers, report, DRIVER)
    if rows:
        await batches.write(kind, rows, report, CLERK)
    return rows


async def test_a_batch_is_written_with_one_audit_entry_counting_customers_not_rows() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    store, audit, report = FakeBehaviour({"C-1": a, "C-2": b}), FakeAudit(), BehaviourReport()
    rows = await run(store, audit, CustomerRefs(INDEX), report,
                     [(2, tx("C-1")), (3, tx("C-1", "5000")), (4, tx("C-2", returned="y"))])
    assert (report.rows, report.created, report.unchanged, report.errors) == (3, 3, 0, [])
    assert {r[0] for r in rows} == {a.hex, b.hex} and len(store.rows) == 3
    [entry] = audit.written
    assert (entry.action, entry.subject_count) == ("transactions.import", 2)
    assert entry.detail == "transactions import batch: 3 valid rows, 3 new"


async def test_rows_already_stored_are_unchanged_on_a_rerun() -> None:
    store, audit = FakeBehaviour({"C-1": uuid.uuid4()}), FakeAudit()
    chunk: list[tuple[int, list[str]] | RowError] = [(2, tx("C-1")), (3, tx("C-1", "5000"))]
    await run(store, audit, CustomerRefs(INDEX), BehaviourReport(), list(chunk))
    again = BehaviourReport()
    await run(store, audit, CustomerRefs(INDEX), again, list(chunk))
    assert (again.created, again.unchanged) == (0, 2) and len(store.rows) == 2
    assert audit.written[-1].detail == "transactions import batch: 2 valid rows, 0 new"


async def test_bad_rows_are_reported_by_line_and_field_and_the_good_ones_kept() -> None:
    store, audit, report = FakeBehaviour({"C-1": uuid.uuid4()}), FakeAudit(), BehaviourReport()
    rows = await run(store, audit, CustomerRefs(INDEX), report, [
        (2, tx("C-1")), (3, tx("C-404")), (4, tx("C-1", "-5")), (5, tx("C-1", returned="maybe")),
        RowError(6, "(row)", "malformed CSV"), (7, tx("C-1", at="2026-03-01T10:00:00"))])
    assert len(rows) == 1 and report.created == 1 and report.rows == 6
    assert sorted((e.line, e.field) for e in report.errors) == [
        (3, "customer_ref"), (4, "amount_krw"), (5, "returned"), (6, "(row)"), (7, "occurred_at")]
    assert not any("C-404" in e.reason or "-5" in e.reason for e in report.errors)  # never the value


async def test_each_customer_ref_is_looked_up_once_per_file() -> None:
    store, audit, customers = FakeBehaviour({"C-1": uuid.uuid4()}), FakeAudit(), CustomerRefs(INDEX)
    await run(store, audit, customers, BehaviourReport(), [(2, tx("C-1")), (3, tx("C-9"))])
    report = BehaviourReport()
    await run(store, audit, customers, report, [(4, tx("C-1", "700")), (5, tx("C-9", "800")), (6, tx("C-2"))])
    assert [len(lookup) for lookup in store.lookups] == [2, 1]  # C-1 and C-9 are remembered, found or not
    assert [(e.line, e.field) for e in report.errors] == [(5, "customer_ref"), (6, "customer_ref")]


async def test_interactions_carry_who_recorded_them_and_check_their_codes() -> None:
    a = uuid.uuid4()
    store, audit, report = FakeBehaviour({"C-1": a}), FakeAudit(), BehaviourReport()
    parse = interaction_parser("crm-svc", datetime(2026, 3, 2, tzinfo=UTC))
    rows = await run(store, audit, CustomerRefs(INDEX), report, [
        (2, ["C-1", "2026-03-01T10:00:00+09:00", "crm", "complaint", "2"]),
        (3, ["C-1", "2026-03-01T11:00:00+09:00", "crm", "gossip", ""]),
        (4, ["C-1", "2026-03-01T12:00:00+09:00", "sales", "survey", "6"])], INTERACTIONS, parse)
    assert len(rows) == 1 and rows[0][1] == a.hex and rows[0][8] == "crm-svc"
    assert [(e.line, e.field) for e in report.errors] == [(3, "kind"), (4, "satisfaction")]
    assert audit.written[-1].action == "interactions.import"
