"""`make run` with several worker processes: each serves, and what they share behaves as one."""

import os
import re
import signal
import time
import uuid
from collections import Counter

import httpx
import pytest

from testkit.processes import children_of, running
from tests.service.conftest import STARTUP_SECONDS, wait_for_health
from tests.service.test_run_command import stop

pytestmark = pytest.mark.slow

ALLOWANCE = 3
ATTEMPTS = 20
ACCOUNT = {
    "email": f"shared-{uuid.uuid4().hex[:8]}@example.com",
    "password": "correct horse battery",
}
QUICK_START = {"JOBS_ENABLED": "false", "EMBEDDINGS_ENABLED": "false"}
CHEAP_HASHING = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST_KIB": "8", "ARGON2_PARALLELISM": "1"}


def login_attempts(ports: list[int]) -> list[tuple[str, int]]:
    """ATTEMPTS wrong passwords for one account, taking turns between the servers on `ports`,
    each on a new connection: (request id, status) of each."""
    urls = [f"http://127.0.0.1:{port}/api/v1/auth/login" for port in ports]
    httpx.post(urls[0].replace("login", "register"), json=ACCOUNT, timeout=30).raise_for_status()
    wrong = {**ACCOUNT, "password": "not the password"}
    answered = []
    for number in range(ATTEMPTS):
        request_id = f"attempt-{number}"
        url = urls[number % len(urls)]
        response = httpx.post(url, json=wrong, headers={"X-Request-ID": request_id}, timeout=30)
        answered.append((request_id, response.status_code))
    return answered


def process_of(log: str, request_id: str) -> str:
    match = re.search(rf" (\d+) \[{request_id}\] POST /api/v1/auth/login", log)
    assert match is not None, f"no log line for {request_id}"
    return match.group(1)


def test_two_workers_serve_and_share_the_login_throttle(  # type: ignore[no-untyped-def]
    database_url: str, start_service
) -> None:
    settings = {"LOGIN_BACKOFF_AFTER_FAILURES": str(ALLOWANCE), **CHEAP_HASHING}
    process, port = start_service(
        DATABASE_URL=database_url, WORKERS="2", **settings, **QUICK_START, measured=False
    )
    # Which of two workers accepts a connection is the kernel's choice (on a busy machine one
    # may take them all): a second server on the same database makes the turns certain.
    other, other_port = start_service(
        DATABASE_URL=database_url, WORKERS="1", **settings, **QUICK_START, measured=False
    )
    wait_for_health(process, port)
    wait_for_health(other, other_port)

    attempts = login_attempts([port, other_port])
    exit_code, log = stop(process)
    other_exit_code, other_log = stop(other)

    assert (exit_code, other_exit_code) == (0, 0)
    assert len(set(re.findall(r"Started server process \[(\d+)\]", log))) == 2
    statuses = Counter(status for _, status in attempts)
    # Counted in PostgreSQL: the allowance holds for all processes together, not for each.
    assert statuses == {401: ALLOWANCE, 429: len(attempts) - ALLOWANCE}
    served_by = Counter(process_of(log + other_log, request_id) for request_id, _ in attempts)
    assert len(served_by) >= 2, f"one process answered every attempt: {served_by}"


def test_workers_stop_when_the_parent_is_killed(  # type: ignore[no-untyped-def]
    database_url: str, start_service
) -> None:
    """SIGKILL leaves the parent no chance to stop its workers: they must notice themselves,
    or they live on, holding the port."""
    process, port = start_service(
        DATABASE_URL=database_url, WORKERS="2", **QUICK_START, measured=False
    )
    wait_for_health(process, port)
    workers = children_of(process.pid)

    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + STARTUP_SECONDS
    while any(map(running, workers)) and time.monotonic() < deadline:
        time.sleep(0.2)

    assert len(workers) >= 2
    assert not any(map(running, workers)), "workers outlived their parent"
