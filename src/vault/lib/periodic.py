"""One loop for background work that repeats on an interval: job heartbeats, scheduled retention runs.

:func:`every` sleeps, runs one tick, and keeps going until its task is cancelled. An error of the
listed types in one tick does not end the loop: it goes to ``on_error`` (nothing when None) and the
next tick runs on time; any other error ends the loop (and its task) as it would end any task.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


async def every(interval_s: float, tick: Callable[[], Awaitable[object]], *,
                errors: tuple[type[Exception], ...] = (Exception,),
                on_error: Callable[[Exception], None] | None = None) -> NoReturn:
    """Run ``tick`` every ``interval_s`` seconds (the first after one interval) until cancelled.

    Args:
        interval_s: seconds between the end of one tick and the start of the next.
        tick: the work of one round.
        errors: the errors a tick may raise without ending the loop (cancellation always ends it).
        on_error: called with such an error (e.g. to log it); None ignores it.
    """
    while True:
        await asyncio.sleep(interval_s)
        try:
            await tick()
        except asyncio.CancelledError:
            raise
        except errors as exc:
            if on_error is not None:
                on_error(exc)
