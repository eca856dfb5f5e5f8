"""The migrations are the schema: they build it, remove it, build it again, and match the models."""

import importlib.util
from collections.abc import AsyncIterator
from types import ModuleType

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.core.config import BACKEND_DIR
from app.db.migrations import check, downgrade, run_alembic, upgrade
from tests.database import create_database, drop_database

APP_TABLES = {
    "users",
    "sessions",
    "conversations",
    "messages",
    "transcripts",
    "chunks",
    "templates",
    "config",
    "api_keys",
    "jobs",
    "usage_events",
    "login_failures",
    "chunk_embeddings",
    "usage_counters",
    "user_limits",
    "webhook_endpoints",
    "webhook_deliveries",
}
APP_FUNCTIONS = {"set_updated_at", "update_conversation_timestamp"}


async def schema_objects(url: str) -> tuple[set[str], set[str], set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            functions = await connection.scalars(
                text(
                    "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE n.nspname = 'public'"
                )
            )
            triggers = await connection.scalars(
                text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            )
            return set(tables), set(functions), set(triggers)
    finally:
        await engine.dispose()


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    url = await create_database(server_url, prefix="ytt_migrations")
    try:
        yield url
    finally:
        await drop_database(url)


async def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    await run_alembic(empty_database, upgrade)
    tables, functions, triggers = await schema_objects(empty_database)
    assert tables >= APP_TABLES
    assert functions >= APP_FUNCTIONS
    assert "trg_messages_update_conversation_timestamp" in triggers
    updated_at_tables = (
        "users",
        "conversations",
        "templates",
        "config",
        "jobs",
        "user_limits",
        "webhook_endpoints",
    )
    assert {f"trg_{t}_set_updated_at" for t in updated_at_tables} <= triggers

    await run_alembic(empty_database, downgrade)
    tables, functions, triggers = await schema_objects(empty_database)
    assert tables == {"alembic_version"}
    assert functions == set()
    assert triggers == set()

    await run_alembic(empty_database, upgrade)
    tables, _, _ = await schema_objects(empty_database)
    assert tables >= APP_TABLES


async def test_models_and_migrations_agree(database_url: str) -> None:
    """`alembic check` raises when autogenerate would produce any operation."""
    await run_alembic(database_url, check)


def migration(file_name: str) -> ModuleType:
    path = BACKEND_DIR / "alembic" / "versions" / file_name
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_a_server_without_pgvector_is_told_how_to_get_it(engine: AsyncEngine) -> None:
    embeddings = migration("0006_chunk_embeddings.py")
    async with engine.connect() as connection:
        await connection.run_sync(embeddings.require_extension, "vector", "unused")
        with pytest.raises(RuntimeError, match="pgvector/pgvector") as refused:
            await connection.run_sync(
                embeddings.require_extension, "no_such_extension", embeddings.MISSING_PGVECTOR
            )
    assert "postgresql-<major version>-pgvector" in str(refused.value)
