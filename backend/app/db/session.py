"""A database's engines (one for units of work, one for autocommit reads) and their sessions.

`Database(settings)` connects to the database its settings name, and to no other: the app
(`create_app(settings)` keeps one in `app.state.database`), the worker and each command build
theirs from the settings they were given, and nothing here reads the environment.
- `database.unit_of_work()`: a session committed when the block ends normally, rolled back
  otherwise; for scripts and workers, and behind the API's `get_db()` (app/api/deps.py).
- `database.read_only()`: a session for reads, in autocommit mode: no BEGIN/COMMIT (behind the
  API's `get_read_db()`).
Repositories only flush; units of work are the only places that commit.

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
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from app.core.config import Settings
from app.db.errors import (
    TransactionAbortedError,
    database_errors_translated,
    translate_database_error,
)

# What a service that commits as it goes is given: `Database.unit_of_work`, or a test's own.
UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]


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
    engine = create_async_engine(
        settings.require_database_url(),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # Reads go without: a read on a connection the server dropped fails as a disconnect,
        # and SQLAlchemy then retires every connection opened before it (see read_only()).
        pool_pre_ping=settings.db_pool_pre_ping and not autocommit,
        pool_timeout=settings.db_pool_timeout_seconds,
        echo=settings.db_echo,
        # An error's text (raised, logged) names the statement, never its values: a password's
        # hash or a token's would otherwise be in it.
        hide_parameters=True,
        connect_args=connect_args(settings),
        **options,
    )
    if not autocommit:
        note_failed_statements(engine)
    return engine


# A statement that fails inside a transaction aborts it in PostgreSQL, which then answers COMMIT
# by rolling everything back, without an error. Had the caller caught the failure (a
# ConflictError, say), its unit of work would end as if its earlier writes were stored. The
# failure is noted on the connection until the transaction (or the savepoint it happened in)
# ends, and committed() refuses to commit over it.
_FAILED_STATEMENT = "failed_statement"


def note_failed_statements(engine: AsyncEngine) -> None:
    """Have `engine`'s connections remember a failed statement until their transaction ends."""
    sync_engine = engine.sync_engine
    event.listen(sync_engine, "handle_error", _note_failure)
    for ending in ("commit", "rollback", "rollback_savepoint"):
        event.listen(sync_engine, ending, _forget_failure)
    event.listen(sync_engine.pool, "checkin", _forget_failure_on_checkin)


def _note_failure(context: ExceptionContext) -> None:
    connection = context.connection
    if connection is None or not connection.in_transaction():
        return
    # Only what the server refused aborts its transaction: asyncpg refuses some values itself
    # (a malformed UUID, an integer past its type) before sending them, and those errors, with
    # no server fields such as `severity`, leave the transaction as it was.
    if getattr(context.original_exception.__cause__, "severity", None) is None:
        return
    error = context.sqlalchemy_exception
    domain_error = translate_database_error(error) if isinstance(error, DBAPIError) else None
    failed = domain_error or context.original_exception
    connection.info.setdefault(_FAILED_STATEMENT, type(failed).__name__)


def _forget_failure(connection: Connection, *_: Any) -> None:
    # A connection invalidated on the way (a cancelled statement, a lost server) has no info to
    # read: reading it would raise PendingRollbackError in place of the cancellation or the
    # outage being handled. Its pool entry is discarded, and its note with it.
    if not connection.invalidated:
        connection.info.pop(_FAILED_STATEMENT, None)


def _forget_failure_on_checkin(_: Any, record: ConnectionPoolEntry) -> None:
    record.info.pop(_FAILED_STATEMENT, None)


async def _refuse_an_aborted_transaction(session: AsyncSession) -> None:
    """TransactionAbortedError when a statement of the session's transaction failed (a flush
    SQLAlchemy rolled back, or a statement PostgreSQL refused) and nothing has undone it."""
    transaction = session.get_transaction()
    if transaction is None:
        return
    if not transaction.is_active:  # a failed flush: SQLAlchemy would raise PendingRollbackError
        raise TransactionAbortedError("a flush")
    failed = (await session.connection()).info.get(_FAILED_STATEMENT)
    if failed is not None:
        raise TransactionAbortedError(failed)


def build_read_only_engine(settings: Settings) -> AsyncEngine:
    """An engine whose connections are in autocommit from the moment they are opened, with no
    pre-ping: a read costs its own round trips and nothing else."""
    return build_engine(settings, pool_size=settings.db_read_pool_size, autocommit=True)


@asynccontextmanager
async def committed(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """`session` for the block, committed when it ends normally, rolled back otherwise: the
    contract of every unit of work (and of the tests' own, on a savepoint)."""
    try:
        yield session
        await _refuse_an_aborted_transaction(session)
        async with database_errors_translated():  # what the commit's flush may find
            await session.commit()
    except BaseException:
        await session.rollback()
        raise


async def skip_disk_flush_at_commit(session: AsyncSession) -> None:
    """Let the COMMIT of `session`'s transaction return before its WAL reaches disk
    (`SET LOCAL synchronous_commit = off`), for every write of the transaction: a crash may lose
    its last fraction of a second, which counters (limits, login throttles) can afford, and no
    disk flush is spent per request. Atomicity and visibility to other transactions are
    unchanged. Run it before the transaction writes anything that must not be lost so."""
    await session.execute(text("SET LOCAL synchronous_commit = off"))


@dataclass(frozen=True, slots=True)
class Pool:
    """An engine and the sessions made on it."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def of(cls, engine: AsyncEngine) -> "Pool":
        return cls(engine, async_sessionmaker(engine, expire_on_commit=False))


class Database:
    """The database `settings` name, and its two engines, built on first use: a Database costs
    nothing until it is used, and builds new engines when used again after `dispose()`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._writes: Pool | None = None
        # Read sessions are admitted through a gate as wide as their pool (read_only()).
        self._reads: tuple[Pool, asyncio.Semaphore] | None = None

    @property
    def engine(self) -> AsyncEngine:
        """The engine of units of work: pooled, pre-pinged, in transactions."""
        return self._write_pool().engine

    def _write_pool(self) -> Pool:
        if self._writes is None:
            self._writes = Pool.of(build_engine(self.settings))
        return self._writes

    def _read_pool(self) -> tuple[Pool, asyncio.Semaphore]:
        if self._reads is None:
            settings = self.settings
            gate = asyncio.Semaphore(settings.db_read_pool_size + settings.db_max_overflow)
            self._reads = Pool.of(build_read_only_engine(settings)), gate
        return self._reads

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed when the block ends normally, rolled back
        otherwise."""
        async with self._write_pool().sessions() as session, committed(session):
            yield session

    @asynccontextmanager
    async def read_only(self) -> AsyncIterator[AsyncSession]:
        """A session for reads: each statement runs on its own, without BEGIN/COMMIT and without
        a pre-ping (three round trips fewer per use). Nothing written in it is atomic or rolled
        back: reads, and single statements that stand alone.

        After a database restart, the first statement on each pooled connection would fail; the
        first one that does marks the pool, whose older connections are then replaced as they
        are checked out, so one request answers 503 (retry) and the next ones succeed.

        Sessions are admitted in arrival order, no more at once than the pool has connections:
        SQLAlchemy's async pool gives a returned connection to whoever asks first, so with more
        requests than connections a waiting request could be passed over again and again (reads
        timed out after 2 s at 50 connections; `python -m benchmarks.http_wrk`)."""
        pool, gate = self._read_pool()
        async with gate, pool.sessions() as session:
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection; the next use builds new engines."""
        pools = [self._writes, self._reads[0] if self._reads else None]
        self._writes, self._reads = None, None
        for pool in filter(None, pools):
            await pool.engine.dispose()
