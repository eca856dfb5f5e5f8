"""`python -m app.serve`: what `make run` runs.

Starts the embedded PostgreSQL when DATABASE_URL is not set (and stops it on exit), applies the
migrations, then serves the app with uvicorn on the configured host and port.
"""

import logging
import os
import signal
import sys
from types import FrameType

import uvicorn

from app.core.config import get_settings
from app.core.logging import configure_logging
from app.db.embedded import start_embedded_postgres
from app.db.migrations import upgrade_to_head

logger = logging.getLogger("app.serve")


def resolve_database_url() -> str:
    """DATABASE_URL when set; otherwise the embedded server's URL, exported for the app."""
    settings = get_settings()
    if settings.database_url is not None:
        logger.info("using the PostgreSQL server named by DATABASE_URL")
        return settings.require_database_url()
    url = start_embedded_postgres(settings.embedded_pg_dir)
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    return url


def exit_cleanly(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM's default action kills the process at once, skipping the atexit hook that stops
    # the embedded PostgreSQL; uvicorn re-raises the signal after its graceful shutdown.
    logger.info("received signal %d, shutting down", signum)
    sys.exit(0)


def main() -> None:
    configure_logging(get_settings().log_level)
    signal.signal(signal.SIGTERM, exit_cleanly)
    database_url = resolve_database_url()
    logger.info("applying migrations")
    upgrade_to_head(database_url)
    settings = get_settings()
    # log_config=None keeps the one logging setup (with request ids); the app writes its own
    # access log, so uvicorn's is off.
    uvicorn.run(
        "app.main:app",
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
