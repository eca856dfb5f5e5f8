"""`make admin`, `make worker` and `make run` as real processes on one embedded data folder (a
throw-away one, never backend/.data/postgres): each works whether the others are up or not, they
share one server, and the last one to finish stops it."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.config import BACKEND_DIR
from tests.service.conftest import STARTUP_SECONDS, read_log_until, wait_for_health
from tests.service.test_run_command import stop

pytestmark = pytest.mark.slow

QUIET = {"JOBS_ENABLED": "false", "EMBEDDINGS_ENABLED": "false", "LOG_LEVEL": "info"}
ACCOUNT = {"email": "ada@example.com", "password": "correct horse battery"}


def command_environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a command run by hand: no DATABASE_URL, the test's data folder."""
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return {**environment, **QUIET, "EMBEDDED_PG_DIR": str(data_dir), **settings}


def run_cli(data_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "app.cli", *arguments],
        cwd=BACKEND_DIR,
        env=command_environment(data_dir),
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
        check=False,
    )


@pytest.fixture
def start_worker() -> Iterator[object]:
    """Start `python -m app.worker` on a data folder; it has said it runs when this returns."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(data_dir: Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.worker"],
            cwd=BACKEND_DIR,
            env=command_environment(data_dir, JOB_WORKERS="1"),
            stderr=subprocess.PIPE,
        )
        processes.append(process)
        read_log_until(process, "ingest worker(s) running")
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate()


def postmasters(data_dir: Path) -> list[int]:
    """The ids of the PostgreSQL servers running on `data_dir` (their children not counted)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # not a process, or one that has just ended
            continue
        if arguments[0].endswith(b"/postgres") and str(data_dir).encode() in arguments:
            found.append(int(entry.name))
    return found


def running_server(data_dir: Path) -> int:
    """The one server of the folder, by the id its postmaster.pid names."""
    pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    assert postmasters(data_dir) == [pid]
    return pid


def assert_stopped(data_dir: Path) -> None:
    assert not (data_dir / "postmaster.pid").exists(), "the server outlived its last user"
    assert postmasters(data_dir) == []


def test_commands_beside_the_run_command_share_its_server(  # type: ignore[no-untyped-def]
    embedded_data_dir: Path, start_service, start_worker
) -> None:
    data_dir = embedded_data_dir
    service, port = start_service(EMBEDDED_PG_DIR=str(data_dir), **QUIET)
    wait_for_health(service, port)
    server = running_server(data_dir)
    register = httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/register", json=ACCOUNT)
    assert register.status_code < 300

    granted = run_cli(data_dir, "grant-admin", ACCOUNT["email"])
    worker = start_worker(data_dir)
    worker_exit, worker_log = stop(worker)

    assert (granted.returncode, granted.stdout.strip()) == (
        0,
        "ada@example.com is now an administrator",
    )
    assert worker_exit == 0
    assert "left running: still in use" in worker_log
    assert running_server(data_dir) == server
    assert wait_for_health(service, port).json() == {"status": "ok", "database": "up"}
    service_exit, _ = stop(service)
    assert service_exit == 0
    assert_stopped(data_dir)

    # Alone, the command starts the server, and stops it when done.
    revoked = run_cli(data_dir, "revoke-admin", ACCOUNT["email"])
    assert (revoked.returncode, revoked.stdout.strip()) == (
        0,
        "ada@example.com is no longer an administrator",
    )
    assert_stopped(data_dir)


def test_the_run_command_keeps_a_server_a_command_started(  # type: ignore[no-untyped-def]
    embedded_data_dir: Path, start_service, start_worker
) -> None:
    """`make run` started while `make worker` runs: the worker's exit leaves the server to it."""
    data_dir = embedded_data_dir
    worker = start_worker(data_dir)
    server = running_server(data_dir)
    service, port = start_service(EMBEDDED_PG_DIR=str(data_dir), **QUIET)
    wait_for_health(service, port)

    worker_exit, _ = stop(worker)

    assert worker_exit == 0
    assert running_server(data_dir) == server
    assert wait_for_health(service, port).json() == {"status": "ok", "database": "up"}
    service_exit, _ = stop(service)
    assert service_exit == 0
    assert_stopped(data_dir)


def test_a_command_alone_on_a_fresh_folder_says_what_is_wrong(embedded_data_dir: Path) -> None:
    """It initialises the folder, migrates it, answers in one line and stops the server."""
    data_dir = embedded_data_dir

    completed = run_cli(data_dir, "grant-admin", "nobody@example.com")

    assert completed.returncode == 1
    assert completed.stderr.strip() == "error: user nobody@example.com was not found"
    assert_stopped(data_dir)


UNREACHABLE = "postgresql://someone:s3cret-word@/app?host=/nonexistent/socket-folder"


def run_module(
    arguments: list[str], data_dir: Path, database_url: str
) -> subprocess.CompletedProcess[str]:
    """`python -m <arguments>` with DATABASE_URL set, as a person starts a command."""
    return subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", *arguments],
        cwd=BACKEND_DIR,
        env=command_environment(data_dir, DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
        check=False,
    )


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["app.cli", "grant-admin", "ada@example.com"], "error: cannot reach the database ("),
        (["app.worker"], "the ingest workers cannot start: cannot reach the database ("),
        (["app.serve"], "cannot serve: cannot reach the database ("),
    ],
)
def test_an_unreachable_database_is_said_in_one_line(
    tmp_path: Path, arguments: list[str], said: str
) -> None:
    completed = run_module(arguments, tmp_path / "pg", UNREACHABLE)

    assert completed.returncode == 1
    assert said in completed.stderr
    assert "Traceback" not in completed.stderr
    assert "s3cret-word" not in completed.stderr
    assert not (tmp_path / "pg").exists(), "DATABASE_URL is set: nothing is started"


@pytest.mark.parametrize("module", ["app.serve", "app.worker", "app.cli"])
@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://someone:s3cret-word@localhost/app", "error: DATABASE_URL: "),
        (
            "postgresql://someone:s3cret-word@127.0.0.1:99999/app",
            "the database refused the connection (OverflowError",
        ),
    ],
)
def test_a_wrong_database_url_is_said_without_its_password(
    tmp_path: Path, module: str, url: str, said: str
) -> None:
    """A setting's value is never repeated: pydantic's own message printed the whole URL."""
    arguments = [module, "grant-admin", "ada@example.com"] if module == "app.cli" else [module]
    completed = run_module(arguments, tmp_path / "pg", url)

    assert completed.returncode in (1, 2)
    assert said in completed.stderr
    assert "Traceback" not in completed.stderr
    assert "s3cret-word" not in completed.stderr


def test_an_embedded_server_that_cannot_start_is_said_in_one_line(
    embedded_data_dir: Path,
) -> None:
    embedded_data_dir.mkdir()
    (embedded_data_dir / "PG_VERSION").write_text("18\n")  # a folder with nothing else in it

    completed = run_cli(embedded_data_dir, "grant-admin", "ada@example.com")

    assert completed.returncode == 1
    last_line = completed.stderr.strip().splitlines()[-1]
    assert last_line == (
        f"error: the embedded PostgreSQL in {embedded_data_dir} did not start "
        f"(pg_ctl exited with status 1); its log is {embedded_data_dir / 'log'}"
    )
    assert "Traceback" not in completed.stderr
