import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.api.routes import health
from tests.api.conftest import assert_error


async def test_liveness_does_not_need_the_database(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_database() -> None:
        raise AssertionError("liveness touched the database")

    monkeypatch.setattr(health, "get_engine", no_database)
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_queries_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/db")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up"}


async def test_readiness_is_503_when_the_database_is_unreachable(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    unreachable = create_async_engine(f"postgresql+asyncpg://postgres@/postgres?host={tmp_path}")
    monkeypatch.setattr(health, "get_engine", lambda: unreachable)

    response = await client.get("/health/db")

    assert_error(response, 503, "service_unavailable")
    await unreachable.dispose()
