"""get_db() and unit_of_work() commit on success and roll back on error, on the real engine."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import get_db
from app.db.repositories import UserRepository
from app.db.session import Database
from tests.factories import make_user


async def email_exists(database: Database, email: str) -> bool:
    async with database.unit_of_work() as session:
        return await UserRepository(session).get_by_email(email) is not None


async def delete_user(database: Database, email: str) -> None:
    async with database.unit_of_work() as session:
        users = UserRepository(session)
        user = await users.get_by_email(email)
        if user is not None:
            await users.delete(user.id)


@pytest.fixture
async def email(database: Database) -> AsyncIterator[str]:
    address = f"uow-{uuid.uuid4().hex[:8]}@example.com"
    yield address
    await delete_user(database, address)


def request_to_app_on(database: Database) -> Request:
    """A request to an app whose database is `database`, as get_db() finds it."""
    app = FastAPI()
    app.state.database = database
    return Request({"type": "http", "app": app})


async def test_unit_of_work_commits_on_success(database: Database, email: str) -> None:
    async with database.unit_of_work() as session:
        await make_user(session, email)
    assert await email_exists(database, email)


async def create_user_then_fail(database: Database, email: str) -> None:
    async with database.unit_of_work() as session:
        await make_user(session, email)
        raise RuntimeError("boom")


async def test_unit_of_work_rolls_back_on_error(database: Database, email: str) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        await create_user_then_fail(database, email)
    assert not await email_exists(database, email)


async def test_get_db_commits_when_the_request_succeeds(database: Database, email: str) -> None:
    dependency = get_db(request_to_app_on(database))
    session: AsyncSession = await anext(dependency)
    await make_user(session, email)
    with pytest.raises(StopAsyncIteration):
        await anext(dependency)
    assert await email_exists(database, email)


async def test_get_db_rolls_back_when_the_request_fails(database: Database, email: str) -> None:
    dependency = get_db(request_to_app_on(database))
    session: AsyncSession = await anext(dependency)
    await make_user(session, email)
    with pytest.raises(ValueError, match="route failed"):
        await dependency.athrow(ValueError("route failed"))
    assert not await email_exists(database, email)


async def test_engine_uses_the_configured_pool(database: Database) -> None:
    pool = database.engine.pool
    assert pool.size() == 20  # type: ignore[attr-defined]
    assert database.engine is database.engine


async def test_read_only_sessions_see_committed_rows_without_a_transaction(
    database: Database, email: str
) -> None:
    async with database.unit_of_work() as session:
        await make_user(session, email)
    async with database.read_only() as session:
        assert await UserRepository(session).get_by_email(email) is not None
        first = await session.scalar(text("SELECT now()"))
        await asyncio.sleep(0.01)
        second = await session.scalar(text("SELECT now()"))
    # now() is the transaction's start: it moves only if each statement is its own transaction.
    assert second > first
