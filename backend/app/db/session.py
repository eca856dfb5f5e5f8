"""One AsyncEngine per process, its session factory, and the two ways to get a unit of work.

- `get_db()`: the FastAPI dependency; commits when the request succeeded, rolls back otherwise.
- `unit_of_work()`: the same contract as an `async with` block, for scripts and workers.
- `read_only()`: a session for reads only, in autocommit mode: no BEGIN/COMMIT round trips.
Repositories only flush; the first two are the only places that commit.
"""

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.config import Settings, get_settings

_engine: AsyncEngine | None = None
_session_factory: async_sessionmaker[AsyncSession] | None = None
_read_only_factory: async_sessionmaker[AsyncSession] | None = None


def build_engine(settings: Settings) -> AsyncEngine:
    """A pooled engine configured from the settings (pool, pre-ping, statement timeout)."""
    return create_async_engine(
        settings.require_database_url(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=settings.db_pool_pre_ping,
        pool_timeout=settings.db_pool_timeout_seconds,
        echo=settings.db_echo,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "youtube-talker",
            }
        },
    )


def get_engine() -> AsyncEngine:
    """The process's engine, created on first use."""
    global _engine, _session_factory, _read_only_factory
    if _engine is None:
        _engine = build_engine(get_settings())
        _session_factory = async_sessionmaker(_engine, expire_on_commit=False)
        # The same pool; connections go back to it with their isolation level reset.
        autocommit = _engine.execution_options(isolation_level="AUTOCOMMIT")
        _read_only_factory = async_sessionmaker(autocommit, expire_on_commit=False)
    return _engine


def get_session_factory() -> async_sessionmaker[AsyncSession]:
    get_engine()
    assert _session_factory is not None
    return _session_factory


async def dispose_engine() -> None:
    """Close every pooled connection; the next `get_engine()` builds a new engine."""
    global _engine, _session_factory, _read_only_factory
    if _engine is not None:
        await _engine.dispose()
    _engine = None
    _session_factory = None
    _read_only_factory = None


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[AsyncSession]:
    """A session whose work is committed when the block ends normally, rolled back otherwise."""
    async with get_session_factory()() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


@asynccontextmanager
async def read_only() -> AsyncIterator[AsyncSession]:
    """A session for reads: each statement runs on its own, without BEGIN/COMMIT (two round
    trips fewer per use). Nothing written in it is atomic or rolled back: read only."""
    get_engine()
    assert _read_only_factory is not None
    async with _read_only_factory() as session:
        yield session


async def get_db() -> AsyncGenerator[AsyncSession, None]:
    """FastAPI dependency: one unit of work per request (`Depends(get_db)`)."""
    async with unit_of_work() as session:
        yield session
