"""Helpers for tests that run the service as a real process."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.config import BACKEND_DIR
from app.db.embedded import stop_embedded_postgres
from testkit.processes import unmeasured

STARTUP_SECONDS = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_health(process: subprocess.Popen[bytes], port: int) -> httpx.Response:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the service exited with {process.returncode}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health/db", timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"no answer on port {port} within {STARTUP_SECONDS} s")


def read_log_until(process: subprocess.Popen[bytes], text: str, times: int = 1) -> str:
    """What the process has logged up to its `times`-th line holding `text`. Under load a
    second server worker may still be starting when the first answers, so a test that counts
    what each worker logs waits here rather than on the first answer. A process that exits
    first fails the test with its log; one that goes quiet is caught by the suite's timeout."""
    assert process.stderr is not None
    log = ""
    while log.count(text) < times:
        line = process.stderr.readline().decode()
        assert line, f"the process exited before logging {text!r} {times} time(s):\n{log}"
        log += line
    return log


def start_process(*, measured: bool = True, **env: str) -> tuple[subprocess.Popen[bytes], int]:
    """`python -m app.serve` on a free port, with `env` added to this process's environment
    (DATABASE_URL only if given); returns the process and its port. `measured=False` leaves
    it out of the coverage figure (testkit.processes.unmeasured): for a test whose subject is
    what the process does over HTTP or with its children, not the lines it runs to start."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if not measured:
        environment = unmeasured(environment)
    # One worker unless a test asks for more: the default is one per core.
    environment.update({"WORKERS": "1", "LOG_LEVEL": "info", **env}, PORT=str(port))
    environment["PYTHONFAULTHANDLER"] = "1"  # SIGABRT prints each thread's stack
    process = subprocess.Popen(
        [sys.executable, "-m", "app.serve"],
        cwd=BACKEND_DIR,
        env=environment,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: its workers are ended with it
    )
    return process, port


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # workers left behind would hold the pipe
    process.communicate()  # reaps it and closes its stderr pipe


@pytest.fixture
def start_service() -> Iterator[object]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(*, measured: bool = True, **env: str) -> tuple[subprocess.Popen[bytes], int]:
        process, port = start_process(measured=measured, **env)
        processes.append(process)
        return process, port

    yield start
    for process in processes:
        stop_process(process)


@contextlib.contextmanager
def embedded_data_folder() -> Iterator[Path]:
    """A data folder for an embedded server of a test's own, not yet created; any server left
    on it is stopped at the end.

    It is not under pytest's tmp_path: run as root, the server runs as another user, and every
    pytest session started meanwhile (by anyone on the machine) closes /tmp/pytest-of-root to
    other users again, so that the server can no longer start or even shut down cleanly."""
    parent = Path(tempfile.mkdtemp(prefix="ytt-embedded-"))
    data_dir = parent / "pg"
    try:
        yield data_dir
    finally:
        stop_embedded_postgres(data_dir)
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def embedded_data_dir() -> Iterator[Path]:
    with embedded_data_folder() as data_dir:
        yield data_dir
