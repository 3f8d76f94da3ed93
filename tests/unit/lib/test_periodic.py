"""vault.lib.periodic.every: the one loop behind job heartbeats and scheduled retention runs."""

from __future__ import annotations

import asyncio

import pytest

from vault.lib.periodic import every


async def test_listed_errors_are_reported_and_the_loop_goes_on_until_cancelled() -> None:
    ticks: list[int] = []
    seen: list[Exception] = []
    five = asyncio.Event()

    async def tick() -> None:
        ticks.append(len(ticks))
        if len(ticks) == 2:
            raise OSError("disk full")
        if len(ticks) == 5:
            five.set()

    task = asyncio.create_task(every(0.001, tick, errors=(OSError,), on_error=seen.append))
    await asyncio.wait_for(five.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [type(e) for e in seen] == [OSError]


async def test_an_error_not_listed_ends_the_loop() -> None:
    async def tick() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await every(0.001, tick, errors=(OSError,))
