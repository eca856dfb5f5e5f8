"""get_db() and unit_of_work() commit on success and roll back on error, on the real engine."""

import asyncio
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories import UserRepository
from app.db.session import get_db, get_engine, unit_of_work
from tests.factories import make_user


async def email_exists(email: str) -> bool:
    async with unit_of_work() as session:
        return await UserRepository(session).get_by_email(email) is not None


async def delete_user(email: str) -> None:
    async with unit_of_work() as session:
        users = UserRepository(session)
        user = await users.get_by_email(email)
        if user is not None:
            await users.delete(user.id)


@pytest.fixture
async def email(database_url: str) -> object:
    address = f"uow-{uuid.uuid4().hex[:8]}@example.com"
    yield address
    await delete_user(address)


async def test_unit_of_work_commits_on_success(email: str) -> None:
    async with unit_of_work() as session:
        await make_user(session, email)
    assert await email_exists(email)


async def create_user_then_fail(email: str) -> None:
    async with unit_of_work() as session:
        await make_user(session, email)
        raise RuntimeError("boom")


async def test_unit_of_work_rolls_back_on_error(email: str) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        await create_user_then_fail(email)
    assert not await email_exists(email)


async def test_get_db_commits_when_the_request_succeeds(email: str) -> None:
    dependency = get_db()
    session: AsyncSession = await anext(dependency)
    await make_user(session, email)
    with pytest.raises(StopAsyncIteration):
        await anext(dependency)
    assert await email_exists(email)


async def test_get_db_rolls_back_when_the_request_fails(email: str) -> None:
    dependency = get_db()
    session: AsyncSession = await anext(dependency)
    await make_user(session, email)
    with pytest.raises(ValueError, match="route failed"):
        await dependency.athrow(ValueError("route failed"))
    assert not await email_exists(email)


async def test_engine_uses_the_configured_pool(database_url: str) -> None:
    pool = get_engine().pool
    assert pool.size() == 20  # type: ignore[attr-defined]
    assert get_engine() is get_engine()


async def test_read_only_sessions_see_committed_rows_without_a_transaction(email: str) -> None:
    from sqlalchemy import text

    from app.db.session import read_only

    async with unit_of_work() as session:
        await make_user(session, email)
    async with read_only() as session:
        assert await UserRepository(session).get_by_email(email) is not None
        first = await session.scalar(text("SELECT now()"))
        await asyncio.sleep(0.01)
        second = await session.scalar(text("SELECT now()"))
    # now() is the transaction's start: it moves only if each statement is its own transaction.
    assert second > first
