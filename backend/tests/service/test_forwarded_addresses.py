"""Behind a reverse proxy each client is counted by its own address, and only a proxy listed in
TRUSTED_PROXIES may say which: `python -m app.serve` (what `make run` runs) as a real process.

Each server has a database of its own: the login counts of 127.0.0.1 stay out of the other
tests' way, and theirs out of these.
"""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from testkit.database import create_database, drop_database
from tests.service.conftest import wait_for_health
from tests.service.test_workers import CHEAP_HASHING, QUICK_START

pytestmark = pytest.mark.slow

# The proxy's address: on loopback, but not uvicorn's default trusted 127.0.0.1, so that only
# TRUSTED_PROXIES can make it trusted.
PROXY = "127.0.0.2"

# The third failed login from one address within the minute is refused.
THROTTLE = {
    "LOGIN_CLIENT_BACKOFF_AFTER_FAILURES": "2",
    "LOGIN_BACKOFF_BASE_SECONDS": "60",
    **CHEAP_HASHING,
    **QUICK_START,
}


@pytest.fixture
async def own_database(server_url: str) -> AsyncIterator[str]:
    url = await create_database(server_url, prefix="ytt_forwarded")
    yield url
    await drop_database(url)


def failed_login(port: int, forwarded_for: str, source: str = "127.0.0.1") -> int:
    """The status of a wrong password for a new email, sent from the address `source` and
    said to come from `forwarded_for`."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        response = client.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            json={"email": f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password": "wrong" * 3},
            headers={"X-Forwarded-For": forwarded_for},
        )
    return response.status_code


def hsts_when_forwarded_over_https(port: int, source: str = "127.0.0.1") -> bool:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        response = client.get(
            f"http://127.0.0.1:{port}/health", headers={"X-Forwarded-Proto": "https"}
        )
    return "strict-transport-security" in response.headers


def test_behind_a_trusted_proxy_each_client_has_its_own_count(  # type: ignore[no-untyped-def]
    own_database: str, start_service
) -> None:
    process, port = start_service(
        DATABASE_URL=own_database, TRUSTED_PROXIES=f'["{PROXY}"]', **THROTTLE
    )
    wait_for_health(process, port)

    # The proxy appends the address it sees to whatever the client sent: a client's own
    # X-Forwarded-For (the varying first address) is not believed, the proxy's entry is.
    one_client = [failed_login(port, f"192.0.2.{n}, 203.0.113.7", PROXY) for n in range(3)]
    another_client = failed_login(port, "198.51.100.9", PROXY)

    assert one_client == [401, 401, 429]
    assert another_client == 401
    assert hsts_when_forwarded_over_https(port, PROXY)


def test_without_trusted_proxies_a_forwarded_address_is_ignored(  # type: ignore[no-untyped-def]
    own_database: str, start_service
) -> None:
    process, port = start_service(DATABASE_URL=own_database, TRUSTED_PROXIES="[]", **THROTTLE)
    wait_for_health(process, port)

    # From 127.0.0.1, which uvicorn trusts by default: each attempt claims another address,
    # and all are counted as 127.0.0.1's.
    spoofed = [failed_login(port, f"203.0.113.{n}") for n in range(3)]

    assert spoofed == [401, 401, 429]
    assert not hsts_when_forwarded_over_https(port)
