"""A database outage is answered 503 with Retry-After on every route, and the service recovers
by itself when the database is back: the app runs as a real process on a PostgreSQL server of
its own, which the test stops and starts again."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.config import BACKEND_DIR
from testkit.database import create_database
from tests.service.conftest import embedded_data_folder, wait_for_health

pytestmark = pytest.mark.slow

RECOVERY_SECONDS = 30
PASSWORD = "correct horse battery staple"

_START_SERVER = """
import sys
from pathlib import Path
from app.db.embedded import start_embedded_postgres

print(start_embedded_postgres(Path(sys.argv[1]), stop_at_exit=False))
"""


class DedicatedServer:
    """An embedded PostgreSQL in its own folder, started and stopped on demand."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def start(self) -> str:
        started = subprocess.run(  # noqa: S603 (our own interpreter and script)
            [sys.executable, "-c", _START_SERVER, str(self.data_dir)],
            cwd=BACKEND_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert started.returncode == 0, f"the server did not start: {started.stderr}"
        return started.stdout.strip()

    def stop(self) -> None:
        """A fast shutdown (SIGINT to the postmaster): connections are cut, as in an outage."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
        deadline = time.monotonic() + 30
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_file.exists(), "the server did not stop"


@pytest.fixture(scope="module")
def dedicated_server() -> Iterator[DedicatedServer]:
    """One server for the module (initialising a data folder takes seconds); each test has a
    database of its own on it."""
    with embedded_data_folder() as data_dir:
        server = DedicatedServer(data_dir)
        yield server
        server.stop()


@pytest.fixture
def fresh_database(dedicated_server: DedicatedServer) -> str:
    """An empty database on the dedicated server, started again if a test left it stopped."""
    return asyncio.run(create_database(dedicated_server.start()))


def sign_in(base: str) -> dict[str, str]:
    credentials = {"email": "outage@example.com", "password": PASSWORD}
    httpx.post(f"{base}/api/v1/auth/register", json=credentials).raise_for_status()
    login = httpx.post(f"{base}/api/v1/auth/login", json=credentials)
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert "asyncpg" not in response.text
    assert "Errno" not in response.text


def test_an_outage_is_answered_503_and_the_service_recovers(  # type: ignore[no-untyped-def]
    dedicated_server: DedicatedServer, fresh_database: str, start_service
) -> None:
    process, port = start_service(DATABASE_URL=fresh_database, JOBS_ENABLED="false")
    assert wait_for_health(process, port).status_code == 200
    base = f"http://127.0.0.1:{port}"
    headers = sign_in(base)
    assert httpx.get(f"{base}/api/v1/conversations", headers=headers).status_code == 200

    dedicated_server.stop()

    credentials = {"email": "outage@example.com", "password": PASSWORD}
    for response in (
        httpx.get(f"{base}/api/v1/conversations", headers=headers),
        httpx.post(f"{base}/api/v1/conversations", json={"title": "x"}, headers=headers),
        httpx.get(f"{base}/api/v1/search", params={"q": "anything"}, headers=headers),
        httpx.post(f"{base}/api/v1/auth/login", json=credentials),
        httpx.get(f"{base}/health/db"),
    ):
        assert_unavailable(response)
    assert httpx.get(f"{base}/health").status_code == 200  # the process itself is alive

    dedicated_server.start()

    deadline = time.monotonic() + RECOVERY_SECONDS
    while time.monotonic() < deadline:
        recovered = httpx.get(f"{base}/api/v1/conversations", headers=headers)
        if recovered.status_code == 200:
            break
        assert_unavailable(recovered)
        time.sleep(0.2)
    assert recovered.status_code == 200, "the service did not recover without a restart"
    assert process.poll() is None


async def pooled_reads(base: str, headers: dict[str, str], at_once: int) -> list[int]:
    """`at_once` reads in flight together, so that the read pool holds that many connections."""
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        responses = await asyncio.gather(
            *(client.get("/api/v1/conversations") for _ in range(at_once))
        )
    return [response.status_code for response in responses]


def test_after_a_restart_one_read_fails_and_the_stale_pool_is_replaced(  # type: ignore[no-untyped-def]
    dedicated_server: DedicatedServer, fresh_database: str, start_service
) -> None:
    """Reads run without a pre-ping: a connection the restart cut fails on first use, and that
    failure retires every connection opened before it, so the next reads all succeed."""
    process, port = start_service(DATABASE_URL=fresh_database, JOBS_ENABLED="false")
    assert wait_for_health(process, port).status_code == 200
    base = f"http://127.0.0.1:{port}"
    headers = sign_in(base)
    assert asyncio.run(pooled_reads(base, headers, at_once=5)) == [200] * 5

    dedicated_server.stop()
    dedicated_server.start()

    first = httpx.get(f"{base}/api/v1/conversations", headers=headers)
    if first.status_code != 200:
        assert_unavailable(first)
    statuses = [
        httpx.get(f"{base}/api/v1/conversations", headers=headers).status_code for _ in range(10)
    ]
    assert statuses == [200] * 10
    assert asyncio.run(pooled_reads(base, headers, at_once=5)) == [200] * 5
