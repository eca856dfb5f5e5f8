"""Failed-login throttling through the API: counted in PostgreSQL, per email and address."""

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api.conftest import PASSWORD, assert_error, build_app, sign_up
from tests.factories import let_login_failures_age

LOGIN = "/api/v1/auth/login"
OWNER_HOME = "198.51.100.7"
STRANGER = "203.0.113.9"
# A minute at first, so that no test depends on how fast the machine runs.
SLOW: dict[str, Any] = {"login_backoff_base_seconds": 60}


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50_000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def wrong_password(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": email, "password": "wrong-password!"})


async def right_password(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": email, "password": PASSWORD})


async def owner_email(app: FastAPI) -> str:
    async with client_at(app, OWNER_HOME) as home:
        return (await sign_up(home)).email


async def test_an_attempt_too_soon_after_the_allowance_gets_429_with_retry_after(
    session: AsyncSession,
) -> None:
    app = build_app(session, login_backoff_after_failures=3, **SLOW)
    email = await owner_email(app)
    async with client_at(app, STRANGER) as client:
        for _ in range(3):
            assert (await wrong_password(client, email)).status_code == 401

        refused = await right_password(client, email)  # not even checked

    error = assert_error(refused, 429, "too_many_requests")
    # It came within the 60 s the 4th attempt must wait, so it counts and the next waits 120 s.
    assert refused.headers["Retry-After"] == "120"
    assert "120 seconds" in error["message"]


async def test_another_app_instance_sees_the_same_counters(session: AsyncSession) -> None:
    """Two processes, or one restarted: the counts live in the database, not in either."""
    settings = {"login_backoff_after_failures": 3, **SLOW}
    first, second = build_app(session, **settings), build_app(session, **settings)
    email = await owner_email(first)
    async with client_at(first, STRANGER) as client:
        for _ in range(3):
            assert (await wrong_password(client, email)).status_code == 401

    async with client_at(second, STRANGER) as client:
        assert_error(await wrong_password(client, email), 429, "too_many_requests")


async def test_the_wait_doubles_with_each_attempt_up_to_the_cap(session: AsyncSession) -> None:
    app = build_app(session, login_backoff_after_failures=2, login_backoff_max_seconds=1000, **SLOW)
    email = await owner_email(app)
    async with client_at(app, STRANGER) as client:
        for _ in range(2):
            assert (await wrong_password(client, email)).status_code == 401
        waits = [(await wrong_password(client, email)).headers["Retry-After"] for _ in range(3)]
        assert waits == ["120", "240", "480"]

        await let_login_failures_age(session, timedelta(minutes=10))
        assert (await wrong_password(client, email)).status_code == 401  # waited: checked
        capped = await wrong_password(client, email)

    assert capped.headers["Retry-After"] == "1000"


async def test_a_strangers_failures_do_not_lock_the_owner_out(session: AsyncSession) -> None:
    app = build_app(session, **SLOW)
    email = await owner_email(app)
    async with client_at(app, STRANGER) as stranger:
        statuses = [(await wrong_password(stranger, email)).status_code for _ in range(12)]
    assert statuses == [401] * 5 + [429] * 7

    async with client_at(app, OWNER_HOME) as home:
        assert (await right_password(home, email)).status_code == 200


async def test_past_the_email_ceiling_only_addresses_that_failed_for_it_wait(
    session: AsyncSession,
) -> None:
    app = build_app(
        session, login_email_failure_ceiling=4, login_email_ceiling_window_seconds=600, **SLOW
    )
    email = await owner_email(app)
    for stranger in ("203.0.113.1", "203.0.113.2"):
        async with client_at(app, stranger) as client:
            for _ in range(2):
                assert (await wrong_password(client, email)).status_code == 401

    async with client_at(app, "203.0.113.1") as client:
        refused = await wrong_password(client, email)
    assert_error(refused, 429, "too_many_requests")
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    async with client_at(app, "203.0.113.3") as newcomer:  # one try, then it has failed too
        assert (await wrong_password(newcomer, email)).status_code == 401
        assert (await wrong_password(newcomer, email)).status_code == 429
    async with client_at(app, OWNER_HOME) as home:
        assert (await right_password(home, email)).status_code == 200


async def test_a_success_clears_the_count_of_that_email_from_that_address(
    session: AsyncSession,
) -> None:
    app = build_app(session, login_backoff_after_failures=2, **SLOW)
    email = await owner_email(app)
    async with client_at(app, OWNER_HOME) as home:
        assert (await wrong_password(home, email)).status_code == 401
        assert (await right_password(home, email)).status_code == 200
        # Without the clearing, the third attempt here would have to wait a minute.
        assert (await wrong_password(home, email)).status_code == 401
        assert (await wrong_password(home, email)).status_code == 401


async def test_successful_logins_from_one_address_do_not_add_up(session: AsyncSession) -> None:
    """An office behind one address: its people's logins are not failures of that address."""
    app = build_app(session, login_client_backoff_after_failures=2, **SLOW)
    async with client_at(app, OWNER_HOME) as office:
        for _ in range(4):
            await sign_up(office)  # registers, then logs in: each login is a 200


async def test_addresses_in_one_ipv6_64_count_as_one_client(session: AsyncSession) -> None:
    app = build_app(session, login_backoff_after_failures=2, **SLOW)
    email = await owner_email(app)
    for host in ("2001:db8:7:7::1", "2001:db8:7:7::2"):
        async with client_at(app, host) as client:
            assert (await wrong_password(client, email)).status_code == 401
    async with client_at(app, "2001:db8:7:7:ffff::3") as client:
        assert_error(await wrong_password(client, email), 429, "too_many_requests")
    async with client_at(app, "2001:db8:7:8::1") as other_network:
        assert (await wrong_password(other_network, email)).status_code == 401
