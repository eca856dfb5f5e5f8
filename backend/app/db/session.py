"""The process's engines (one for units of work, one for autocommit reads) and their sessions.

- `get_db()`: the FastAPI dependency; commits when the request succeeded, rolls back otherwise.
- `unit_of_work()`: the same contract as an `async with` block, for scripts and workers.
- `read_only()` / `get_read_db()`: a session for reads, in autocommit mode: no BEGIN/COMMIT.
Repositories only flush; the first two are the only places that commit.

With DB_PGBOUNCER (PgBouncer in transaction pooling mode, before 1.21's prepared-statement
support), consecutive transactions of one connection may run on different server connections:
- a statement prepared in one transaction may be missing in the next, and asyncpg's numbered
  names may already be taken by another client's: nothing is cached, every name is unique;
- `read_only()` sessions use transactions too: in autocommit, a statement's prepare and its
  execution are two round trips that PgBouncer may send to two server connections;
- PgBouncer refuses startup parameters it does not know, so `statement_timeout` is not sent:
  set it on the role or database (`ALTER ROLE … SET statement_timeout = '30s'`).
"""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.config import Settings, get_settings

# What a service that commits as it goes is given: `unit_of_work`, or a test's own.
UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]

_engine: AsyncEngine | None = None
_session_factory: async_sessionmaker[AsyncSession] | None = None
_read_only_engine: AsyncEngine | None = None
_read_only_factory: async_sessionmaker[AsyncSession] | None = None
_read_gate: asyncio.Semaphore | None = None


def unique_statement_name() -> str:
    return f"__asyncpg_{uuid4().hex}__"


PGBOUNCER_CONNECT_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,  # asyncpg's own cache
    "prepared_statement_cache_size": 0,  # SQLAlchemy's, around asyncpg
    "prepared_statement_name_func": unique_statement_name,
}


def connect_args(settings: Settings) -> dict[str, Any]:
    """What asyncpg's connect() gets: timeouts and, behind PgBouncer, no named statement kept."""
    server_settings = {"application_name": "youtube-talker"}
    options = {"timeout": settings.db_connect_timeout_seconds, "server_settings": server_settings}
    if settings.db_pgbouncer:
        return options | PGBOUNCER_CONNECT_ARGS
    server_settings["statement_timeout"] = str(settings.db_statement_timeout_ms)
    return options


def build_engine(
    settings: Settings, *, pool_size: int | None = None, autocommit: bool = False
) -> AsyncEngine:
    """A pooled engine configured from the settings (pool, pre-ping, statement timeout)."""
    options: dict[str, Any] = {}
    if autocommit and not settings.db_pgbouncer:
        options["isolation_level"] = "AUTOCOMMIT"
    return create_async_engine(
        settings.require_database_url(),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # Reads go without: a read on a connection the server dropped fails as a disconnect,
        # and SQLAlchemy then retires every connection opened before it (see read_only()).
        pool_pre_ping=settings.db_pool_pre_ping and not autocommit,
        pool_timeout=settings.db_pool_timeout_seconds,
        echo=settings.db_echo,
        connect_args=connect_args(settings),
        **options,
    )


def build_read_only_engine(settings: Settings) -> AsyncEngine:
    """An engine whose connections are in autocommit from the moment they are opened, with no
    pre-ping: a read costs its own round trips and nothing else."""
    return build_engine(settings, pool_size=settings.db_read_pool_size, autocommit=True)


def get_engine() -> AsyncEngine:
    """The process's engine, created on first use."""
    global _engine, _session_factory
    if _engine is None:
        _engine = build_engine(get_settings())
        _session_factory = async_sessionmaker(_engine, expire_on_commit=False)
    return _engine


def get_read_only_factory() -> async_sessionmaker[AsyncSession]:
    """Sessions on the read-only engine, created on first use."""
    global _read_only_engine, _read_only_factory, _read_gate
    if _read_only_factory is None:
        settings = get_settings()
        _read_only_engine = build_read_only_engine(settings)
        _read_only_factory = async_sessionmaker(_read_only_engine, expire_on_commit=False)
        _read_gate = asyncio.Semaphore(settings.db_read_pool_size + settings.db_max_overflow)
    return _read_only_factory


def get_session_factory() -> async_sessionmaker[AsyncSession]:
    get_engine()
    assert _session_factory is not None
    return _session_factory


async def dispose_engine() -> None:
    """Close every pooled connection; the next use builds new engines."""
    global _engine, _session_factory, _read_only_engine, _read_only_factory, _read_gate
    for engine in (_engine, _read_only_engine):
        if engine is not None:
            await engine.dispose()
    _engine = _read_only_engine = None
    _session_factory = _read_only_factory = None
    _read_gate = None


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
    """A session for reads: each statement runs on its own, without BEGIN/COMMIT and without a
    pre-ping (three round trips fewer per use). Nothing written in it is atomic or rolled back:
    reads, and single statements that stand alone.

    After a database restart, the first statement on each pooled connection would fail; the
    first one that does marks the pool, whose older connections are then replaced as they are
    checked out, so one request answers 503 (retry) and the next ones succeed.

    Sessions are admitted in arrival order, no more at once than the pool has connections:
    SQLAlchemy's async pool gives a returned connection to whoever asks first, so with more
    requests than connections a waiting request could be passed over again and again (reads
    timed out after 2 s at 50 connections; `python -m benchmarks.http_wrk`)."""
    factory = get_read_only_factory()
    assert _read_gate is not None
    async with _read_gate, factory() as session:
        yield session


async def get_read_db() -> AsyncGenerator[AsyncSession, None]:
    """FastAPI dependency: a read_only() session for the request (`Depends(get_read_db)`)."""
    async with read_only() as session:
        yield session


async def get_db() -> AsyncGenerator[AsyncSession, None]:
    """FastAPI dependency: one unit of work per request (`Depends(get_db)`)."""
    async with unit_of_work() as session:
        yield session
