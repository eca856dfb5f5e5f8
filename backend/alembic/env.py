"""Alembic environment: async, URL from the application settings, models as target metadata."""

import asyncio
from logging.config import fileConfig

from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import context
from app.core.config import get_settings
from app.db.models import Base
from app.db.vector_index import VECTOR_INDEX_PREFIX

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    url = config.attributes.get("database_url")
    return str(url) if url else get_settings().require_database_url()


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # Each embedding model's HNSW index is created at run time, not by a migration.
    return not (type_ == "index" and (name or "").startswith(VECTOR_INDEX_PREFIX))


def configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        include_object=include_object,
        compare_type=True,
        compare_server_default=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Emit the SQL to stdout (`alembic upgrade head --sql`) without a database."""
    configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_sync_migrations(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_sync_migrations)
    finally:
        await engine.dispose()


shared_connection = config.attributes.get("connection")
if context.is_offline_mode():
    run_migrations_offline()
elif isinstance(shared_connection, Connection):
    # app.db.migrations.run_alembic: a connection already open on the caller's event loop.
    run_sync_migrations(shared_connection)
else:
    asyncio.run(run_migrations_online())
