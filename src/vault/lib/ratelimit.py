"""Sliding-window counters per key (principal id, client address), in process memory.

Each worker process counts on its own; the composition root divides a configured
per-principal rate by the number of workers, so the whole service stays within it.
Memory is bounded: at most ``max_keys`` keys are tracked, the stalest dropped first.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._max_keys = max_keys
        self._clock = clock
        self._events: OrderedDict[Hashable, deque[float]] = OrderedDict()

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            events = deque()
            self._events[key] = events
            while len(self._events) > self._max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        horizon = now - self.window
        while events and events[0] <= horizon:
            events.popleft()
        return events

    def hit(self, key: Hashable) -> int:
        """Count one event for ``key``; returns 0 when allowed, else seconds until the next one is."""
        now = self._clock()
        events = self._recent(key, now)
        if len(events) >= self.limit:
            return max(1, math.ceil(events[0] + self.window - now))
        events.append(now)
        return 0

    def count(self, key: Hashable) -> int:
        """Events for ``key`` within the window (without counting a new one)."""
        return len(self._recent(key, self._clock()))

    def reset(self, key: Hashable) -> None:
        """Forget ``key`` (after an alert has been raised for its window)."""
        self._events.pop(key, None)


class ConcurrencyLimit:
    """At most ``limit`` operations in flight per key (e.g. CPU-heavy PII detection per principal)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running: dict[Hashable, int] = {}

    def try_acquire(self, key: Hashable) -> bool:
        """Take a slot for ``key``; False when all its slots are taken."""
        n = self._running.get(key, 0)
        if n >= self.limit:
            return False
        self._running[key] = n + 1
        return True

    def release(self, key: Hashable) -> None:
        """Give back a slot taken by :meth:`try_acquire`."""
        n = self._running.get(key, 0) - 1
        if n <= 0:
            self._running.pop(key, None)
        else:
            self._running[key] = n


class VolumeWindow:
    """Amounts per key within the last ``window`` seconds (e.g. contacts streamed per principal per day)."""

    def __init__(self, window: float, *, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._max_keys = max_keys
        self._clock = clock
        self._items: OrderedDict[Hashable, deque[tuple[float, int]]] = OrderedDict()

    def total(self, key: Hashable) -> int:
        """The amount recorded for ``key`` within the window."""
        items = self._items.get(key)
        if items is None:
            return 0
        horizon = self._clock() - self.window
        while items and items[0][0] <= horizon:
            items.popleft()
        return sum(n for _, n in items)

    def add(self, key: Hashable, amount: int) -> None:
        """Record ``amount`` for ``key`` now."""
        items = self._items.setdefault(key, deque())
        self._items.move_to_end(key)
        items.append((self._clock(), amount))
        while len(self._items) > self._max_keys:
            self._items.popitem(last=False)
