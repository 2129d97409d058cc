"""In-memory rate limits: Test sends per user, failed sign-ins per user and address.

Pure logic with an injectable clock. Limits are per process: with N instances
behind a load balancer a user gets at most N times the configured rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable

MAX_TRACKED_KEYS = 10_000


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds for each key."""

    def __init__(
        self, *, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: Hashable) -> int:
        """Seconds until ``key`` may act again; 0 when it may act now."""
        if self.limit <= 0:
            return 0
        with self._lock:
            events = self._prune(key)
            if len(events) < self.limit:
                return 0
            return max(1, math.ceil(events[0] + self.window - self._clock()))

    def add(self, key: Hashable) -> None:
        with self._lock:
            self._prune(key).append(self._clock())
            if len(self._events) > MAX_TRACKED_KEYS:
                self._events.pop(next(iter(self._events)))

    def clear(self, key: Hashable) -> None:
        with self._lock:
            self._events.pop(key, None)

    def _prune(self, key: Hashable) -> deque[float]:
        events = self._events.setdefault(key, deque())
        horizon = self._clock() - self.window
        while events and events[0] <= horizon:
            events.popleft()
        return events
