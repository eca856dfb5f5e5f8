"""The engines work through PgBouncer in transaction pooling mode with DB_PGBOUNCER set.

Many sessions share a few server connections, so consecutive transactions of one pooled
connection land on different server connections, each reset (DISCARD ALL) in between: a
statement prepared and cached, or named by a per-connection counter, is then missing or taken.
"""

import asyncio
import os
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.core.config import Settings
from app.db.migrations import run_alembic
from app.db.models import User
from app.db.session import build_engine, build_read_only_engine
from testkit.database import create_database, drop_database, with_database
from testkit.pgbouncer import pgbouncer_binary, pgbouncer_in_front

pytestmark = pytest.mark.skipif(
    pgbouncer_binary() is None and not os.environ.get("CI"),
    reason="pgbouncer is not installed (apt-get install -y pgbouncer); CI requires it",
)

SESSIONS = 20
TRANSACTIONS = 10
SERVER_CONNECTIONS = 3


@pytest.fixture(scope="module")
def through_pgbouncer(database_url: str) -> Iterator[str]:
    with pgbouncer_in_front(database_url, pool_size=SERVER_CONNECTIONS) as url:
        yield url


async def run_transactions(engine: AsyncEngine) -> set[int]:
    """SESSIONS sessions at once, each running the same statements in TRANSACTIONS
    transactions; returns the server processes that answered."""

    async def one_session() -> set[int]:
        backends = set()
        for number in range(TRANSACTIONS):
            async with engine.begin() as connection:
                backends.add(await connection.scalar(text("SELECT pg_backend_pid()")))
                count = select(func.count()).select_from(User).where(User.email != str(number))
                await connection.scalar(count)
        return backends

    # Every session runs to its end before the engine closes, so no connection is left open.
    results = await asyncio.gather(
        *(one_session() for _ in range(SESSIONS)), return_exceptions=True
    )
    await engine.dispose()
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        raise failures[0]
    return set().union(*(result for result in results if isinstance(result, set)))


@pytest.mark.parametrize("build", [build_engine, build_read_only_engine])
async def test_the_engines_work_through_transaction_pooling(
    through_pgbouncer: str, build: Callable[[Settings], AsyncEngine]
) -> None:
    settings = Settings(database_url=through_pgbouncer, db_pgbouncer=True, db_pool_size=SESSIONS)

    backends = await run_transactions(build(settings))

    assert 1 < len(backends) <= SERVER_CONNECTIONS


async def test_asyncpg_defaults_fail_there(through_pgbouncer: str) -> None:
    """What DB_PGBOUNCER prevents: the same load with asyncpg's and SQLAlchemy's defaults."""
    with pytest.raises(DBAPIError, match="prepared statement"):
        await run_transactions(create_async_engine(through_pgbouncer, pool_size=SESSIONS))


async def test_the_migrations_run_through_it(server_url: str, through_pgbouncer: str) -> None:
    """They run in one transaction (so on one server connection), as `make run` applies them."""
    database = make_url(await create_database(server_url)).database
    assert database is not None
    try:
        await run_alembic(with_database(through_pgbouncer, database))
        engine = create_async_engine(with_database(server_url, database))
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1
        await engine.dispose()
    finally:
        await drop_database(with_database(server_url, database))
