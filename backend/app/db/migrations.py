"""Run the Alembic migrations from code (the run command and the test fixtures use this).

The commands run over one async connection on the caller's event loop (Alembic's "connection
sharing" recipe), never in a thread of their own: SQLAlchemy's greenlets then live on the loop's
thread only, and no thread holding greenlets ends in the middle of a run.
"""

import asyncio
from collections.abc import Callable

from alembic.config import Config
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import command
from app.core.config import BACKEND_DIR

AlembicCommand = Callable[[Config], None]


def alembic_config(database_url: str) -> Config:
    """Alembic's configuration for backend/alembic.ini, aimed at `database_url`."""
    config = Config(str(BACKEND_DIR / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade(config: Config) -> None:
    command.upgrade(config, "head")


def downgrade(config: Config) -> None:
    command.downgrade(config, "base")


def check(config: Config) -> None:
    command.check(config)


async def run_alembic(database_url: str, alembic_command: AlembicCommand = upgrade) -> None:
    """Run `alembic_command` (upgrade to head by default) on this loop, in one transaction."""
    engine = create_async_engine(database_url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_on_connection, database_url, alembic_command)
    finally:
        await engine.dispose()


def _on_connection(
    connection: Connection, database_url: str, alembic_command: AlembicCommand
) -> None:
    config = alembic_config(database_url)
    config.attributes["connection"] = connection
    alembic_command(config)


def upgrade_to_head(database_url: str) -> None:
    """Apply every migration not yet applied, from code with no event loop running (async
    code awaits `run_alembic`)."""
    if _event_loop_running():
        raise RuntimeError(
            "migrations (and resolve_database(), which may start the embedded PostgreSQL and "
            "migrate it) run before the event loop: call it before asyncio.run(), as app/cli.py "
            "does, or await app.db.migrations.run_alembic(url) from async code"
        )
    asyncio.run(run_alembic(database_url))


def _event_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
