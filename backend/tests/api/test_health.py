import asyncio
import time

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.routes import health
from app.core.config import get_settings
from app.db.session import Database
from tests.api.conftest import assert_error, build_app, client_for


class NoDatabase:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"liveness touched the database ({name})")


async def test_liveness_does_not_need_the_database(session: AsyncSession) -> None:
    app = build_app(session)
    app.state.database = NoDatabase()
    async with client_for(app) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_queries_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/db")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up"}


async def test_readiness_is_503_when_the_database_is_unreachable(
    session: AsyncSession, tmp_path: object
) -> None:
    unreachable = f"postgresql+asyncpg://postgres@/postgres?host={tmp_path}"
    app = build_app(session)
    app.state.database = Database(get_settings().with_database_url(unreachable))

    async with client_for(app) as client:
        response = await client.get("/health/db")

    assert_error(response, 503, "service_unavailable")
    await app.state.database.dispose()


async def test_readiness_is_503_when_the_database_hangs(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that takes the connection and never answers (a database frozen, a network
    dropping packets) would hold the probe as long as it hangs."""

    done = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()  # the connection taken, and nothing said, until the test ends
        writer.close()
        await writer.wait_closed()

    hung = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = hung.sockets[0].getsockname()[1]
    monkeypatch.setattr(health, "READINESS_SECONDS", 0.5)
    app = build_app(session)
    app.state.database = Database(
        get_settings().with_database_url(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/db")
    )
    try:
        async with client_for(app) as client:
            started = time.monotonic()
            response = await client.get("/health/db")
            waited = time.monotonic() - started
    finally:
        await app.state.database.dispose()
        done.set()
        hung.close()
        await hung.wait_closed()
        await asyncio.sleep(0.05)  # the handlers close their connections

    assert_error(response, 503, "service_unavailable")
    assert waited < 10  # asyncpg's own connect timeout is 60 s
