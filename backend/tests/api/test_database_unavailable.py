"""Requests meeting an unusable database (no free pooled connection, the connection cut in the
middle of the request) are answered 503 with Retry-After in the one error shape, not 500.
The stop-and-restart case runs the real service: tests/service/test_database_outage.py."""

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from tests.api.conftest import PASSWORD, build_app, client_for

BOGUS_TOKEN = {"Authorization": "Bearer not-a-real-token"}


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "service_unavailable"


async def login(client: httpx.AsyncClient) -> httpx.Response:
    credentials = {"email": "someone@example.com", "password": PASSWORD}
    return await client.post("/api/v1/auth/login", json=credentials)


async def list_conversations(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/api/v1/conversations", headers=BOGUS_TOKEN)


REQUESTS = (login, list_conversations)


@pytest.fixture
async def exhausted_pool(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine whose only connection is taken."""
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.05)
    async with engine.connect():
        yield engine
    await engine.dispose()


async def test_no_free_connection_in_the_pool_answers_503(exhausted_pool: AsyncEngine) -> None:
    async with (
        AsyncSession(bind=exhausted_pool) as session,
        client_for(build_app(session)) as client,
    ):
        for request in REQUESTS:
            assert_unavailable(await request(client))


@pytest.mark.parametrize("request_", REQUESTS)
async def test_a_connection_cut_mid_request_answers_503(
    engine: AsyncEngine, request_: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
) -> None:
    async with engine.connect() as victim, engine.connect() as killer:
        backend = await victim.scalar(text("SELECT pg_backend_pid()"))
        await killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        async with AsyncSession(bind=victim) as session, client_for(build_app(session)) as client:
            assert_unavailable(await request_(client))


async def test_an_ordinary_failure_is_still_a_500(session: AsyncSession) -> None:
    """Not everything is an outage: a bug stays a 500."""
    app = build_app(session)

    @app.get("/boom")
    async def boom() -> None:
        raise FileNotFoundError("some file the code expected")

    async with client_for(app) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
