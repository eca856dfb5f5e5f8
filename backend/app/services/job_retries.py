"""When a job is tried again: why an attempt failed (`JobFailure`), whether another attempt is
worth it, and the wait before it, an exponential backoff with jitter (or the Retry-After YouTube
sent). How long a worker that failed itself (the database is down) pauses before looking again
is background_loops.pause_after_failures."""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from app.core.backoff import exponential_backoff
from app.core.config import Settings
from app.services.youtube.failures import FetchError


@dataclass(frozen=True, slots=True)
class JobFailure:
    """Why an attempt failed: `code` for programs, `reason` for people, and `way_out` (what the
    person can do instead) added when the job fails for good."""

    code: str
    reason: str
    transient: bool
    way_out: str | None = None
    retry_after: float | None = None  # seconds the other side asked us to wait

    @classmethod
    def of_fetch(cls, error: FetchError) -> "JobFailure":
        return cls(error.code, error.reason, error.transient, error.way_out, error.retry_after)

    def message(self, reason: str | None = None) -> str:
        said = reason or self.reason
        return f"{said}. {self.way_out}" if self.way_out else said


def why_not_retried(
    failure: JobFailure, attempts: int, max_attempts: int, settings: Settings
) -> str | None:
    """Why the job fails now, or None when another attempt is worth it."""
    if not failure.transient:
        return failure.reason
    if attempts >= max_attempts:
        return f"{failure.reason} (gave up after {attempts} attempts)"
    if (failure.retry_after or 0) > settings.job_retry_max_seconds:
        return f"{failure.reason}, and asked to wait {failure.retry_after:.0f} s"
    return None


def backoff(
    attempt: int, settings: Settings, fraction: Callable[[], float] = random.random
) -> timedelta:
    """The wait before a job's next attempt (see exponential_backoff)."""
    return exponential_backoff(
        attempt, settings.job_retry_base_seconds, settings.job_retry_max_seconds, fraction
    )
