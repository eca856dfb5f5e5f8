"""Throw-away PostgreSQL databases for the tests and the benchmarks.

The tests' server is the one TEST_DATABASE_URL names, or else an embedded PostgreSQL with its own
data folder (backend/.data/postgres-test), never the development server's; the functions below
take any server (the benchmarks pass their own). Each run creates databases with unique names on
it and drops them at the end.
"""

import os
import uuid

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import BACKEND_DIR, to_asyncpg_url
from app.db.embedded import start_embedded_postgres

TEST_SERVER_DIR = BACKEND_DIR / ".data" / "postgres-test"
MAINTENANCE_DATABASE = "postgres"


def test_server_url() -> str:
    """The URL of the server to create test databases on (its database part is ignored)."""
    configured = os.environ.get("TEST_DATABASE_URL", "").strip()
    if configured:
        return to_asyncpg_url(configured)
    return start_embedded_postgres(TEST_SERVER_DIR)


def with_database(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


async def _run_on_server(server_url: str, statement: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    engine = create_async_engine(
        with_database(server_url, MAINTENANCE_DATABASE), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def create_database(server_url: str, prefix: str = "ytt_test") -> str:
    """Create an empty database with a unique name; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _run_on_server(server_url, f'CREATE DATABASE "{name}"')
    return with_database(server_url, name)


async def drop_database(database_url: str) -> None:
    """Drop the database, closing any connection still open to it."""
    name = make_url(database_url).database
    await _run_on_server(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
