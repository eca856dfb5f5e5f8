from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.api.routes import health
from app.main import create_app


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_health_reports_the_database_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up"}


async def test_health_is_503_when_the_database_is_unreachable(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    unreachable = create_async_engine(
        f"postgresql+asyncpg://postgres@/postgres?host={tmp_path}", pool_pre_ping=False
    )
    monkeypatch.setattr(health, "get_engine", lambda: unreachable)

    response = await client.get("/health")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down"}
    await unreachable.dispose()
