"""An ingest worker, or the webhook sender, that keeps failing waits longer after each failure
and says so in one line: no traceback for an unreachable database, and one only for the first of
other failures (the sender used to log a traceback a second through an outage)."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.core.config import get_settings
from app.db.session import UnitOfWork
from app.services.background_loops import pause_after_failures
from app.services.ingest_worker import IngestWorker
from app.services.webhooks.sender import WebhookSender
from app.services.youtube.fetcher import YouTubeFetcher

UNREACHABLE = "postgresql+asyncpg://someone@/app?host=/nonexistent/socket-folder"
QUICK = {"job_poll_seconds": 0.01, "webhook_poll_seconds": 0.01}
LOOPS = ["app.services.ingest_worker", "app.services.webhooks.sender"]


def test_the_pause_doubles_after_each_failure_up_to_a_minute() -> None:
    poll_seconds = 2.0

    pauses = [pause_after_failures(failures, poll_seconds) for failures in range(8)]

    assert pauses == [2, 4, 8, 16, 32, 60, 60, 60]
    assert pause_after_failures(100_000, poll_seconds) == 60  # however long the outage


class Reports(logging.Handler):
    """Keeps what the worker reports; `three` is set once it has reported three failures."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.three = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if len(self.records) == 3:
            self.three.set()


async def failures_logged(unit_of_work: UnitOfWork, loop: str) -> list[logging.LogRecord]:
    """Run the loop until it has reported three failures in a row; return those reports."""
    settings = get_settings().model_copy(update=QUICK)
    worker: IngestWorker | WebhookSender = (
        IngestWorker(unit_of_work, YouTubeFetcher, settings)
        if loop == "app.services.ingest_worker"
        else WebhookSender(unit_of_work, settings)
    )
    reports = Reports()
    logger = logging.getLogger(loop)
    logger.addHandler(reports)
    running = asyncio.create_task(worker.run_forever())
    try:
        await asyncio.wait_for(reports.three.wait(), 30)
    finally:
        running.cancel()
        logger.removeHandler(reports)
    return reports.records[:3]


@pytest.mark.parametrize("loop", LOOPS)
async def test_an_unreachable_database_is_reported_in_one_line(loop: str) -> None:
    engine = create_async_engine(UNREACHABLE)
    sessions = async_sessionmaker(engine)

    @asynccontextmanager
    async def unit_of_work() -> AsyncIterator[AsyncSession]:
        async with sessions.begin() as session:
            yield session

    try:
        reports = await failures_logged(unit_of_work, loop)
    finally:
        await engine.dispose()

    assert [record.exc_info for record in reports] == [None, None, None]
    messages = [record.getMessage() for record in reports]
    assert all("the database is unavailable (" in message for message in messages)
    assert [message.rsplit("trying again in ", 1)[1] for message in messages] == [
        "0.02 s",
        "0.04 s",
        "0.08 s",
    ]


@pytest.mark.parametrize("loop", LOOPS)
async def test_another_failure_has_its_traceback_once(loop: str) -> None:
    @asynccontextmanager
    async def broken_unit_of_work() -> AsyncIterator[AsyncSession]:
        raise RuntimeError("the queue is broken")
        yield  # an async generator, as a unit of work is

    reports = await failures_logged(broken_unit_of_work, loop)

    assert [record.exc_info is not None for record in reports] == [True, False, False]
    assert "failed 3 times in a row (RuntimeError: the queue is broken)" in reports[2].getMessage()
