"""How a loop that works in the background (the ingest workers, the webhook sender) waits and
says so when a round of it fails: twice as long after each failure in a row, up to a minute, and
an outage of the database in one line a round, not a traceback a second; and how the loops are
stopped with the server."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from app.db.errors import is_database_unavailable, outage_reason

MAX_PAUSE_SECONDS = 60.0
STOP_SECONDS = 10.0  # how long a server's stop waits for its loops
RECANCEL_SECONDS = 1.0


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


async def run_rounds(
    one_round: Callable[[], Awaitable[bool]],
    *,
    name: str,
    poll_seconds: float,
    log: logging.Logger,
    wake_up: asyncio.Event | None = None,
) -> None:
    """Run `one_round` (True when it found work) until cancelled. After a round with nothing
    to do, or a failed one, it waits `pause_after_failures` (or until `wake_up` is set); a
    failure is told by `report_failure`, and the first good round after failures says so."""
    failures = 0
    while True:
        go_on_unless_cancelled()
        try:
            worked = await one_round()
        except Exception as error:
            failures += 1
            worked = False
            pause = pause_after_failures(failures, poll_seconds)
            report_failure(log, name, error, failures, pause)
        else:
            if failures:
                log.info("%s: working again", name)
            failures = 0
        if not worked:
            await _pause(pause_after_failures(failures, poll_seconds), wake_up)


async def _pause(seconds: float, wake_up: asyncio.Event | None) -> None:
    if wake_up is None:
        await asyncio.sleep(seconds)
        return
    wake_up.clear()
    # asyncio.timeout, not wait_for: 3.11's wait_for loses a cancellation that arrives as the
    # wake-up does, and a server's stop waited on the loop.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake_up.wait()


def go_on_unless_cancelled() -> None:
    """Raise CancelledError when the running task was asked to stop and is still running: a
    loop calls it each round. A cancellation can be caught on the way (by a library, or lost as
    `stop_loops` says), and the loop then went on polling: the ingest worker's, under load, was
    seen "cancelling" and polling for a minute, holding its process's stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def stop_loops(
    tasks: list[asyncio.Task[None]], log: logging.Logger, within: float = STOP_SECONDS
) -> None:
    """Cancel the loops and wait until they have ended, at most `within` seconds.

    A loop still running a second after its cancellation is cancelled again: a cancellation
    can be lost (Python 3.11's `asyncio.wait_for` returns its result when the cancellation
    arrives as the awaited thing completes, and libraries use it), and a lost one held the
    server's exit forever. A loop still running at the end is named in the log and left: the
    process ends all the same."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    running = {task for task in tasks if not task.done()}
    while running:
        for task in running:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            names = ", ".join(sorted(task.get_name() for task in running))
            log.warning("stopping without waiting for %s: still running %g s after", names, within)
            return
        _, running = await asyncio.wait(running, timeout=min(RECANCEL_SECONDS, left))
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s ended with an error", task.get_name(), exc_info=task.exception())
