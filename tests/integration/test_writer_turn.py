"""Issue 13 (writes): on SQLite the vault's processes take turns at the write lock through a lock file.

A write transaction that finds another process's transaction in progress waits for its turn
(``flock`` on ``<database>-writer.lock``, in a thread) and is woken when that transaction commits or
rolls back, instead of retrying ``BEGIN IMMEDIATE`` on a timer. Each ``Database`` opens the lock file
itself, so two of them on one file stand for two worker processes. The turn must come back on commit,
on rollback, and when a waiting request is cancelled.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from vault.db import engine
from vault.db.engine import Database


def _database(tmp_path: Path) -> str:
    path = tmp_path / "turns.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (worker TEXT, n INTEGER)")
    conn.close()
    return str(path)


def _turn_taken(path: str) -> bool:
    """Whether some connection's turn is in progress (the lock file is locked), seen from a third process."""
    fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


async def _turn_free_within(path: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _turn_taken(path):
            return True
        await asyncio.sleep(0.01)
    return False


async def _write_and_hold(db: Database, inside: asyncio.Event, release: asyncio.Event,
                          before_commit: Callable[[], None] | None = None) -> None:
    """Write a's row in a transaction, say so through ``inside``, keep it open until ``release``."""
    async with db.write() as session:
        await session.execute(text("INSERT INTO t VALUES ('a', 1)"))
        inside.set()
        await release.wait()
        if before_commit is not None:
            before_commit()


async def test_a_write_waits_for_the_other_process_turn_and_runs_when_it_ends(tmp_path: Path) -> None:
    path = _database(tmp_path)
    a, b = Database(f"sqlite+aiosqlite:///{path}"), Database(f"sqlite+aiosqlite:///{path}")
    order: list[str] = []
    try:
        a_inside, a_may_commit = asyncio.Event(), asyncio.Event()

        async def second() -> None:
            async with b.write() as session:
                # The transaction begins at its first statement (write sessions begin lazily).
                await session.execute(text("INSERT INTO t VALUES ('b', 2)"))
                order.append("b wrote")

        ta = asyncio.create_task(_write_and_hold(a, a_inside, a_may_commit, lambda: order.append("a commits")))
        await a_inside.wait()
        assert _turn_taken(path)
        tb = asyncio.create_task(second())
        await asyncio.sleep(0.1)
        assert not tb.done() and order == []  # b waits for a's turn
        a_may_commit.set()
        await asyncio.wait_for(asyncio.gather(ta, tb), 10)
        assert order == ["a commits", "b wrote"]
        assert await _turn_free_within(path, 2)
        rows = sqlite3.connect(path).execute("SELECT worker, n FROM t ORDER BY n").fetchall()
        assert rows == [("a", 1), ("b", 2)]
    finally:
        await a.dispose()
        await b.dispose()


async def test_a_rolled_back_write_gives_its_turn_back(tmp_path: Path) -> None:
    path = _database(tmp_path)
    a, b = Database(f"sqlite+aiosqlite:///{path}"), Database(f"sqlite+aiosqlite:///{path}")
    try:
        taken_inside: list[bool] = []

        async def failing() -> None:
            async with a.write() as session:
                await session.execute(text("INSERT INTO t VALUES ('a', 1)"))
                taken_inside.append(_turn_taken(path))
                raise LookupError("the request fails inside its transaction")

        with pytest.raises(LookupError):
            await failing()
        assert taken_inside == [True]
        assert not _turn_taken(path)
        async with b.write() as session:
            await session.execute(text("INSERT INTO t VALUES ('b', 2)"))
        rows = sqlite3.connect(path).execute("SELECT worker FROM t").fetchall()
        assert rows == [("b",)]
    finally:
        await a.dispose()
        await b.dispose()


async def test_a_cancelled_waiter_does_not_keep_the_turn(tmp_path: Path) -> None:
    path = _database(tmp_path)
    a, b = Database(f"sqlite+aiosqlite:///{path}"), Database(f"sqlite+aiosqlite:///{path}")
    try:
        a_inside, a_may_commit = asyncio.Event(), asyncio.Event()

        async def waiter() -> None:
            async with b.write() as session:
                await session.execute(text("INSERT INTO t VALUES ('never', 2)"))

        ta = asyncio.create_task(_write_and_hold(a, a_inside, a_may_commit))
        await a_inside.wait()
        tb = asyncio.create_task(waiter())
        await asyncio.sleep(0.1)
        tb.cancel()  # e.g. the client went away while its request waited for the turn
        with pytest.raises(asyncio.CancelledError):
            await tb
        a_may_commit.set()
        await ta
        # b's thread got the turn after a's commit and must have handed it straight back.
        assert await _turn_free_within(path, 5)
        async with a.write() as session:  # and both can write again
            await session.execute(text("INSERT INTO t VALUES ('a', 3)"))
        async with b.write() as session:
            await session.execute(text("INSERT INTO t VALUES ('b', 4)"))
        rows = sqlite3.connect(path).execute("SELECT worker, n FROM t ORDER BY n").fetchall()
        assert rows == [("a", 1), ("a", 3), ("b", 4)]
    finally:
        await a.dispose()
        await b.dispose()


async def test_a_waiter_gives_up_after_the_busy_timeout_as_without_turns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The turn and SQLite's lock share one deadline (BUSY_TIMEOUT_S): a transaction held open elsewhere makes a
    # write fail as busy once it has passed, never wait without end.
    monkeypatch.setattr(engine, "BUSY_TIMEOUT_S", 0.3)
    path = _database(tmp_path)
    a, b = Database(f"sqlite+aiosqlite:///{path}"), Database(f"sqlite+aiosqlite:///{path}")
    try:
        a_inside, a_may_commit = asyncio.Event(), asyncio.Event()
        ta = asyncio.create_task(_write_and_hold(a, a_inside, a_may_commit))
        await a_inside.wait()
        with pytest.raises(sqlite3.OperationalError, match=r"locked|busy"):
            async with b.write() as session:
                await asyncio.wait_for(session.execute(text("INSERT INTO t VALUES ('b', 2)")), 10)
        a_may_commit.set()
        await ta
        assert await _turn_free_within(path, 5)  # b's late turn was handed back
        async with b.write() as session:
            await session.execute(text("INSERT INTO t VALUES ('b', 3)"))
        rows = sqlite3.connect(path).execute("SELECT worker, n FROM t ORDER BY n").fetchall()
        assert rows == [("a", 1), ("b", 3)]
    finally:
        await a.dispose()
        await b.dispose()


async def test_one_database_reuses_its_turn_across_transactions(tmp_path: Path) -> None:
    path = _database(tmp_path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        for n in range(3):
            async with db.write() as session:
                await session.execute(text("INSERT INTO t VALUES ('a', :n)"), {"n": n})
            assert not _turn_taken(path)  # given back after every commit
    finally:
        await db.dispose()
