"""`python -m app.worker`: ingest workers (fetching and embedding) and webhook delivery loops
in a process of their own.

The API process runs JOB_WORKERS workers itself unless JOBS_ENABLED=false; run this to add more
capacity or to keep fetching out of the API process. Workers coordinate through PostgreSQL
(FOR UPDATE SKIP LOCKED), so any number of these processes can run side by side.

The database is found as `make run` finds it (`resolve_database`), whether the service is up or
not; `run(settings, stop)` works on the one its settings name. A database that cannot be reached
at start ends the command with one line and exit code 1; an outage later is waited out, the
workers retrying less and less often (background_loops.py, `pause_after_failures`).
"""

import asyncio
import logging
import signal

from sqlalchemy import text

from app.core.config import Settings, settings_or_exit
from app.core.logging import configure_logging
from app.db.embedded import database_failures_said, resolve_database
from app.db.session import Database
from app.services.background_loops import stop_loops
from app.services.ingest_worker import start_workers
from app.services.llm import build_language_model
from app.services.passage_embeddings import Embedder
from app.services.webhooks.sender import start_senders
from app.services.youtube.fetcher import YouTubeFetcher

logger = logging.getLogger("app.worker")


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """The ingest workers and delivery loops on the database the settings name, until `stop`."""
    database = Database(settings)
    await check_database(database)
    worker_count = max(settings.job_workers, 1)
    embedder = Embedder(settings) if settings.embeddings_enabled else None
    worker, tasks = start_workers(
        database,
        YouTubeFetcher,
        settings,
        worker_count,
        embedder,
        build_language_model(settings),
    )
    tasks += start_senders(database.unit_of_work, settings, settings.webhook_senders)
    logger.info("%d ingest worker(s) running as %s", worker_count, worker.worker_id)
    await stop.wait()
    await stop_loops(tasks, logger)  # as the server's stop does: a lost cancellation held it
    if embedder is not None:
        await embedder.aclose()
    await database.dispose()
    logger.info("ingest workers stopped")


async def run_until_signalled(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run(settings, stop)


async def check_database(database: Database) -> None:
    """Connect once before starting: a wrong DATABASE_URL is said at once, not retried."""
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def main() -> None:
    settings = settings_or_exit()
    configure_logging(settings.log_level)
    with database_failures_said(
        lambda message: logger.error("the ingest workers cannot start: %s", message)
    ):
        asyncio.run(run_until_signalled(resolve_database(settings)))


if __name__ == "__main__":
    main()
