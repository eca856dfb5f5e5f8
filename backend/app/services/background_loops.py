"""How a loop that works in the background (the ingest workers, the webhook sender) waits and
says so when a round of it fails: twice as long after each failure in a row, up to a minute, and
an outage of the database in one line a round, not a traceback a second."""

import logging

from app.db.errors import is_database_unavailable, outage_reason

MAX_PAUSE_SECONDS = 60.0


def pause_after_failures(failures: int, poll_seconds: float) -> float:
    """Seconds to wait before the next round: the poll interval when all is well, doubled
    after each failure in a row up to a minute (never below the poll interval)."""
    pause = poll_seconds * 2.0 ** min(failures, 16)  # no float overflow
    return max(min(pause, MAX_PAUSE_SECONDS), poll_seconds)


def report_failure(
    log: logging.Logger, loop: str, error: Exception, failures: int, pause: float
) -> None:
    """An outage in one line; another error with its traceback the first time in a row, then
    in one line."""
    if is_database_unavailable(error):
        log.warning(
            "%s: the database is unavailable (%s); trying again in %g s",
            loop,
            outage_reason(error),
            pause,
        )
    elif failures == 1:
        log.exception("%s: unexpected error; trying again in %g s", loop, pause)
    else:
        log.warning(
            "%s: failed %d times in a row (%s: %s); trying again in %g s",
            loop,
            failures,
            type(error).__name__,
            error,
            pause,
        )
