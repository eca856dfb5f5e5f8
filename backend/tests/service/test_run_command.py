"""`python -m app.serve` (what `make run` runs), as a real process: it migrates and serves."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.core.config import BACKEND_DIR
from tests.service.conftest import read_log_until, wait_for_health

pytestmark = pytest.mark.slow


def stop(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    """Send SIGTERM; return the exit code and what the service logged. A service that has not
    exited 30 s later fails the test with every one of its processes' stacks (start_process
    turns faulthandler on: SIGABRT makes each print where its threads wait)."""
    process.terminate()
    try:
        _, log = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGABRT)
        _, log = process.communicate(timeout=30)
        raise AssertionError("still running 30 s after SIGTERM:\n" + log.decode()) from None
    return process.returncode, log.decode()


def raw_head(port: int, path: str) -> bytes:
    """Everything the server sends for `HEAD path` on a connection it is asked to close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(f"HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return b"".join(iter(lambda: connection.recv(65536), b""))


def test_serves_on_the_database_url_and_logs_request_ids(  # type: ignore[no-untyped-def]
    database_url: str, start_service
) -> None:
    process, port = start_service(DATABASE_URL=database_url)

    response = wait_for_health(process, port)
    traced = httpx.get(f"http://127.0.0.1:{port}/health", headers={"X-Request-ID": "trace-me-1"})
    head = raw_head(port, "/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up"}
    assert traced.headers["X-Request-ID"] == "trace-me-1"
    # HEAD, as uptime monitors ask: the GET's length, and nothing after the headers.
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f"content-length: {len(traced.content)}\r\n".encode() in head.lower()
    assert head.endswith(b"\r\n\r\n")
    assert b"\r\nserver:" not in head.lower()  # the server does not say what it is
    exit_code, log = stop(process)
    assert exit_code == 0
    assert "[trace-me-1] GET /health 200" in log
    assert database_url not in log  # the URL is a secret


@pytest.mark.parametrize("workers", ["1", "2"])
def test_without_database_url_it_runs_and_stops_embedded_postgres(  # type: ignore[no-untyped-def]
    embedded_data_dir: Path, start_service, workers: str
) -> None:
    """Only the parent process starts the server, and it stops it once its workers are done."""
    data_dir = embedded_data_dir
    process, port = start_service(EMBEDDED_PG_DIR=str(data_dir), WORKERS=workers)

    response = wait_for_health(process, port)
    started = read_log_until(process, "Application startup complete", times=int(workers))

    assert response.json() == {"status": "ok", "database": "up"}
    assert (data_dir / "postmaster.pid").exists()
    exit_code, log = stop(process)
    log = started + log
    assert exit_code == 0
    assert not (data_dir / "postmaster.pid").exists(), "the server outlived the run command"
    assert log.count("embedded PostgreSQL is up") == 1
    assert log.count("applying migrations") == 1
    assert log.count("Application startup complete") == int(workers)


def test_the_worker_command_runs_until_told_to_stop(database_url: str) -> None:
    environment = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "info"}
    process = subprocess.Popen(
        [sys.executable, "-m", "app.worker"],
        cwd=BACKEND_DIR,
        env=environment,
        stderr=subprocess.PIPE,
    )
    try:
        read_log_until(process, "ingest worker(s) running")
        exit_code, log = stop(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert exit_code == 0
    assert "ingest workers stopped" in log
