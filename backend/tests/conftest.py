"""Fixtures: one throw-away database per run, built by the migrations; one rolled-back
transaction per test.

Each test's session is joined to an outer transaction on its own connection and works inside
savepoints (SQLAlchemy's "join_transaction_mode='create_savepoint'"), so code under test may
commit: a commit only releases a savepoint, and the outer rollback removes everything.
"""

import json
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cryptography.fernet import Fernet

# Argon2id at its cheapest for the test run: hashing cost is not what the tests measure.
os.environ.setdefault("ARGON2_TIME_COST", "1")
os.environ.setdefault("ARGON2_MEMORY_COST_KIB", "1024")
os.environ.setdefault("ARGON2_PARALLELISM", "1")
# A key of the run's own for webhook secrets, rather than the key file `make run` keeps in
# backend/.data (app/services/webhooks/secrets.py).
os.environ.setdefault("WEBHOOK_SECRET_KEYS", json.dumps([Fernet.generate_key().decode()]))

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app.core.config import get_settings
from app.db.migrations import run_alembic
from app.db.session import Database
from testkit.database import create_database, drop_database, test_server_url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, those sharing a module fixture together. `make test` hands them
    out with `--dist worksteal`: each worker starts with half of this order, and one that runs
    out takes half of what the other has left. (xdist's default hands out its first quarters
    in runs of consecutive tests: with the slow tests first, one worker got all of them and ran
    alone for the last 200 s of a 368 s run.)"""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
async def server_url() -> str:
    return test_server_url()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A migrated throw-away database; the environment's settings (get_settings()) name it
    during the run."""
    url = await create_database(server_url)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        await run_alembic(url)
        yield url
    finally:
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous
        get_settings.cache_clear()
        await drop_database(url)


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[Database]:
    """The run's database as the application's code uses it: units of work, reads, its engine."""
    database = Database(get_settings().with_database_url(database_url))
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


@asynccontextmanager
async def rolled_back_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose every change, committed or not, is rolled back when the block ends."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        test_session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield test_session
        finally:
            await test_session.close()
            await transaction.rollback()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """The test's own rolled-back session."""
    async with rolled_back_session(engine) as test_session:
        yield test_session


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Belt and braces for replayed answers: a request escaping the replay fails instead of
    connecting."""

    def refuse(self: socket.socket, *args: object) -> None:
        raise AssertionError(f"a test tried to open a network connection to {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
