import httpx
from sqlalchemy.ext.asyncio import AsyncSession

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
