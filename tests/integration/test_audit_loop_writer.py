"""Issue 13 (audit writer): on SQLite, durable entries are group-committed on the event loop's own thread.

Entries submitted in one loop iteration share one commit; SQLite's write lock held by another
connection (another worker process, or a request's write transaction) delays a batch, never fails
it; several loops (threads or processes) share one chain.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from pathlib import Path

from sqlalchemy import func, select

from vault.audit import Actor, AuditEvent, Outcome, verify_chain
from vault.audit.loop_writer import LoopAuditWriter
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.db.engine import Database
from vault.db.migrate import upgrade_head

ACTOR = Actor(uuid.uuid4(), "loop-writer-test", "application")


def _event(i: int) -> AuditEvent:
    return AuditEvent("customer.read", Outcome.ALLOWED, ACTOR, purpose="service_delivery",
                      customer_id=uuid.uuid4(), fields=("email", "name"), request_id=f"req{i}")


def _database(tmp_path: Path) -> str:
    path = tmp_path / "audit.db"
    upgrade_head(f"sqlite+aiosqlite:///{path}")
    return str(path)


async def _verified(path: str) -> tuple[bool, int]:
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with db.read() as session:
            report = await verify_chain(session)
            count = int(await session.scalar(select(func.count()).select_from(AuditEntryRow)) or 0)
        return report.ok, count
    finally:
        await db.dispose()


async def test_entries_of_one_iteration_share_one_commit(tmp_path: Path) -> None:
    path = _database(tmp_path)
    writer = LoopAuditWriter(path)
    commits = 0
    original = writer._write

    def counting(conn: sqlite3.Connection, batch: list) -> None:  # type: ignore[type-arg]
        nonlocal commits
        commits += 1
        original(conn, batch)

    writer._write = counting  # type: ignore[method-assign]
    try:
        seqs = await asyncio.gather(*(writer.submit(_event(i)) for i in range(100)))
    finally:
        writer.close()
    assert sorted(seqs) == list(range(1, 101))
    assert commits == 1
    assert await _verified(path) == (True, 100)


async def test_a_held_write_lock_delays_the_batch_and_never_fails_it(tmp_path: Path) -> None:
    path = _database(tmp_path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's write transaction
    writer = LoopAuditWriter(path)
    try:
        pending = [writer.submit(_event(i)) for i in range(5)]
        await asyncio.sleep(0.05)
        assert not any(f.done() for f in pending), "committed while another connection held the write lock"
        other.execute("COMMIT")
        seqs = await asyncio.wait_for(asyncio.gather(*pending), timeout=5)
    finally:
        other.close()
        writer.close()
    assert sorted(seqs) == [1, 2, 3, 4, 5]
    assert await _verified(path) == (True, 5)


def test_loops_in_several_threads_share_one_chain(tmp_path: Path) -> None:
    path = _database(tmp_path)
    writers = [LoopAuditWriter(path), LoopAuditWriter(path)]  # as two worker processes would have
    results: list[list[int]] = []

    def run(writer: LoopAuditWriter, base: int) -> None:
        async def main() -> list[int]:
            out: list[int] = []
            for round_ in range(20):
                out += await asyncio.gather(*(writer.submit(_event(base + round_ * 10 + i)) for i in range(10)))
            return out

        results.append(asyncio.run(main()))

    threads = [threading.Thread(target=run, args=(w, n * 1000)) for n, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for w in writers:
        w.close()
    seqs = sorted(s for r in results for s in r)
    assert seqs == list(range(1, 401))
    assert asyncio.run(_verified(path)) == (True, 400)


async def test_a_denial_inside_a_write_transaction_commits_after_it(vault: Vault) -> None:
    """A request that holds the write lock and records a durable denial neither deadlocks nor loses it."""
    event = _event(7)
    async with vault.db.write() as session:
        await session.execute(select(func.count()).select_from(AuditEntryRow))  # takes SQLite's write lock
        seq = await vault.audit.record_durable(event)  # in this task, as a request's denial would be
    await vault.audit.drain()
    async with vault.db.read() as session:
        rows = (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.request_id == "req7"))).all()
    assert len(rows) == 1
    assert seq in (-1, rows[0].seq)  # -1: queued behind this very transaction (SQLite), else its seq
