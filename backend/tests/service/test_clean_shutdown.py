"""`make run` stopped after its process pool has worked: nothing it started outlives it.

The processes are those of `python -m app.serve` (what `make run` runs): uvicorn's worker
processes when WORKERS > 1, each one's pool of chunking processes (app/core/offload.py), and the
multiprocessing resource tracker they share. They are listed before the server is stopped: a
process that outlives its parent is re-parented, and its parent chain no longer leads back.
"""

import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from testkit.processes import children_of, running
from tests.service.conftest import wait_for_health
from tests.service.test_workers import CHEAP_HASHING, QUICK_START

pytestmark = pytest.mark.slow

UPLOADS = 12
EXIT_SECONDS = 30
SETTLE_SECONDS = 5  # once the server has exited, how long what it started may take to end
TRANSCRIPT = "Feed your starter twice a day and keep it somewhere warm. " * 200

# Each test signs up an account of its own, all from 127.0.0.1: more than the ten sign-ups an
# hour one address gets by default.
SETTINGS = {**QUICK_START, **CHEAP_HASHING, "SIGNUP_PER_ADDRESS_PER_HOUR": "0"}

Stop = Callable[[int], None]


def terminate(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)


def press_ctrl_c(pid: int) -> None:
    """What a terminal does on Ctrl-C: SIGINT to every process of the foreground group."""
    os.killpg(pid, signal.SIGINT)


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def descendants_of(pid: int) -> set[int]:
    found: set[int] = set()
    parents = [pid]
    while parents:
        parents = [child for parent in parents for child in children_of(parent)]
        found.update(parents)
    return found


def command_line(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "(ended)"
    return command.replace(b"\0", b" ").decode(errors="replace")[:120]


def is_resource_tracker(pid: int) -> bool:
    return "multiprocessing.resource_tracker" in command_line(pid)


def serving_processes(root: int, workers: int) -> list[int]:
    """The processes that run the app: the server itself, or uvicorn's workers."""
    if workers == 1:
        return [root]
    return [pid for pid in children_of(root) if not is_resource_tracker(pid)]


def pool_processes(server: int) -> list[int]:
    return [pid for pid in children_of(server) if not is_resource_tracker(pid)]


def sign_in(base: str) -> dict[str, str]:
    account = {"email": f"stop-{uuid.uuid4().hex[:8]}@example.com", "password": "x" * 12}
    httpx.post(f"{base}/auth/register", json=account, timeout=30).raise_for_status()
    login = httpx.post(f"{base}/auth/login", json=account, timeout=30)
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def use_every_pool(port: int, root: int, workers: int) -> None:
    """Transcripts posted (each chunked in a pool process), each on a new connection, until
    every serving process has started its pool or UPLOADS have been sent: which worker takes
    a connection is the kernel's choice."""
    base = f"http://127.0.0.1:{port}/api/v1"
    headers = sign_in(base)
    for number in range(UPLOADS):
        transcript = {"video": f"shutdown{number:03d}", "transcript_text": TRANSCRIPT}
        response = httpx.post(f"{base}/transcripts", json=transcript, headers=headers, timeout=60)
        assert response.status_code == 201, response.text
        if all(map(pool_processes, serving_processes(root, workers))):
            return


def survivors(processes: set[int]) -> list[str]:
    """The processes still running, with their command lines."""
    return [f"{pid}: {command_line(pid)}" for pid in sorted(processes) if running(pid)]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("stop", [terminate, press_ctrl_c, kill])
def test_nothing_the_server_started_outlives_it(  # type: ignore[no-untyped-def]
    database_url: str, start_service, workers: int, stop: Stop
) -> None:
    """Stopped by SIGTERM, by Ctrl-C, or killed outright (then uvicorn's workers, and the pool
    processes, must notice by themselves). Ctrl-C reaches every process of the group: only
    the server is to answer it, with no process dying of KeyboardInterrupt in the log."""
    process, port = start_service(
        DATABASE_URL=database_url, WORKERS=str(workers), **SETTINGS, measured=False
    )
    wait_for_health(process, port)
    use_every_pool(port, process.pid, workers)
    started = descendants_of(process.pid)
    assert any(map(pool_processes, serving_processes(process.pid, workers)))
    assert any(map(is_resource_tracker, started))

    stop(process.pid)
    process.wait(timeout=EXIT_SECONDS)
    deadline = time.monotonic() + SETTLE_SECONDS
    while survivors(started) and time.monotonic() < deadline:
        time.sleep(0.2)

    assert survivors(started) == [], "outlived the server"
    if stop is not kill:
        _, log = process.communicate(timeout=EXIT_SECONDS)
        assert b"Traceback" not in log, log.decode()


def test_a_request_that_never_ends_does_not_keep_the_server_from_stopping(  # type: ignore[no-untyped-def]
    database_url: str, start_service
) -> None:
    """A client sending its body a byte at a time (or reading a stream that goes on) would
    otherwise hold a stopping server for as long as it likes: uvicorn waits for running
    requests, with no bound unless one is set (SHUTDOWN_GRACE_SECONDS)."""
    process, port = start_service(
        DATABASE_URL=database_url, SHUTDOWN_GRACE_SECONDS="1", **SETTINGS, measured=False
    )
    wait_for_health(process, port)
    with socket.create_connection(("127.0.0.1", port)) as trickling:
        trickling.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: test\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        time.sleep(0.5)  # the request is running
        started = time.monotonic()
        terminate(process.pid)
        process.wait(timeout=EXIT_SECONDS)
    assert time.monotonic() - started < 1 + SETTLE_SECONDS
