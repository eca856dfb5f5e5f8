"""Throttling of failed logins, per email and per client address.

Kept in the process's memory: it resets on restart and is per worker process, which is enough to
slow password guessing against one account from one place; a multi-worker deployment that needs
a shared count would move this into PostgreSQL or a cache.
"""

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_TRACKED_KEYS = 100_000  # bounds memory when an attacker varies the key


class FailureThrottle:
    """Allows at most `limit` failures per key within `window` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        cutoff = self.clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def retry_after(self, key: str) -> int | None:
        """Seconds to wait before the next attempt, or None when an attempt is allowed now."""
        failures = self._recent(key)
        if len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window - self.clock()))

    def record_failure(self, key: str) -> None:
        failures = self._failures.setdefault(key, deque())
        failures.append(self.clock())
        self._failures.move_to_end(key)
        while len(self._failures) > MAX_TRACKED_KEYS:
            self._failures.popitem(last=False)

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)
