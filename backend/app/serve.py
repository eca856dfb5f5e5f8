"""`python -m app.serve`: what `make run` runs.

Finds the database as every command does (`app.db.embedded.resolve_database`: DATABASE_URL, or
the embedded PostgreSQL, started unless another command runs it and stopped by the last command
using it), applies the migrations, then serves the app with uvicorn on the configured host and
port, in WORKERS processes. Only this parent process starts and stops the server and migrates:
the workers are spawned afresh, import this module without running `main()`, and serve
`worker_app()`, built from settings read in the worker, with the DATABASE_URL the parent handed
down (`hand_down_to_workers`).
"""

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING

from app.core.config import Settings, settings_or_exit
from app.core.logging import configure_logging

if TYPE_CHECKING:
    from fastapi import FastAPI

# What only main() uses (uvicorn, the database's resolution) is imported there: every process a
# worker spawns for its pool imports this module again, as its parent's main module, and would
# pay for them (0.25 s of CPU) before the work it was started for.

logger = logging.getLogger("app.serve")


def exit_cleanly(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM's default action kills the process at once, skipping the atexit hook that stops
    # the embedded PostgreSQL; uvicorn re-raises the signal after its graceful shutdown.
    logger.info("received signal %d, shutting down", signum)
    sys.exit(0)


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def stop_with_the_parent() -> None:
    """In a spawned worker on Linux: get SIGTERM when the parent dies. A parent killed outright
    (SIGKILL) cannot stop its workers, which would live on holding the port and its output."""
    parent = multiprocessing.parent_process()
    if sys.platform != "linux" or parent is None:
        return
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent.pid:
        sys.exit(0)  # the parent died before the request was made


def worker_app() -> "FastAPI":
    """What each worker process serves: the app of the environment's settings, the parent's
    DATABASE_URL among them, logging as the parent does."""
    stop_with_the_parent()
    settings = Settings()  # not get_settings(): with one worker, its cache predates the hand-down
    configure_logging(settings.log_level)
    from app.main import create_app  # imported here: the parent loads no app it does not serve

    return create_app(settings)


def hand_down_to_workers(settings: Settings) -> None:
    """Give the worker processes the database this process resolved (the embedded server's
    when DATABASE_URL is unset), through the one channel uvicorn leaves: it starts each worker
    from an import string (`app.serve:worker_app`), whose factory takes no arguments, in a
    process that inherits this one's environment. With one worker, uvicorn builds the app in
    this very process, and reads the same variable."""
    os.environ["DATABASE_URL"] = settings.require_database_url()


def main() -> None:
    import uvicorn

    from app.db.embedded import database_failures_said, resolve_database

    settings = settings_or_exit()
    configure_logging(settings.log_level)
    signal.signal(signal.SIGTERM, exit_cleanly)
    with database_failures_said(lambda message: logger.error("cannot serve: %s", message)):
        settings = resolve_database(settings, migrate=True)
    hand_down_to_workers(settings)
    logger.info("serving with %d worker process(es)", settings.workers)
    # log_config=None keeps the one logging setup (with request ids); the app writes its own
    # access log, so uvicorn's is off. With more than one worker, uvicorn supervises spawned
    # processes and handles SIGTERM itself, returning here so that the embedded server stops.
    # proxy_headers=False: the app reads X-Forwarded-For from TRUSTED_PROXIES' proxies only
    # (app/main.py); uvicorn's reader would trust 127.0.0.1 (or FORWARDED_ALLOW_IPS) on its own.
    uvicorn.run(
        "app.serve:worker_app",
        factory=True,
        workers=settings.workers,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,  # which server answers is nobody's business
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


if __name__ == "__main__":
    main()
