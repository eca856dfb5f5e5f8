"""The wait before another attempt at something that failed: jobs and webhook deliveries."""

import random
from collections.abc import Callable
from datetime import timedelta


def exponential_backoff(
    attempt: int, base: float, ceiling: float, fraction: Callable[[], float] = random.random
) -> timedelta:
    """`base * 2**(attempt - 1)`, capped at `ceiling`; half of it fixed, half random, so that
    what failed together (an outage) does not all come back at the same moment."""
    longest = min(base * 2 ** max(attempt - 1, 0), ceiling)
    return timedelta(seconds=longest * (0.5 + 0.5 * fraction()))
