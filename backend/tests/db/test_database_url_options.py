"""A DATABASE_URL as a managed PostgreSQL service hands it out, with libpq's `sslmode`, connects."""

from sqlalchemy import text

from app.core.config import get_settings
from app.db.session import Database


async def test_a_url_with_sslmode_connects(database_url: str) -> None:
    separator = "&" if "?" in database_url else "?"
    url = (
        database_url.replace("postgresql+asyncpg://", "postgresql://")
        + separator
        + "sslmode=disable"
    )
    database = Database(get_settings().with_database_url(url))
    try:
        async with database.read_only() as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await database.dispose()
