"""get_db() and unit_of_work() commit on success and roll back on error, on the real engine."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import get_db
from app.db.errors import ConflictError, InvalidValueError, TransactionAbortedError
from app.db.models import User
from app.db.repositories import ConversationRepository, TemplateRepository, UserRepository
from app.db.repositories.paging import PageRequest
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


async def register_a_bad_email(session: AsyncSession, _: User | None = None) -> None:
    """A statement PostgreSQL refuses (the email check), its error caught by the caller."""
    with pytest.raises(InvalidValueError):
        await UserRepository(session).create_unless_taken(email="bad", password_hash="h")


async def make_a_template_twice(session: AsyncSession, user: User) -> None:
    """A flush PostgreSQL refuses (the owner's template names are unique), caught."""

    async def create() -> None:
        await TemplateRepository(session).create(
            user_id=user.id, template_type="blog", template_name="Twice", template_content="{t}"
        )

    await create()
    with pytest.raises(ConflictError):
        await create()


async def conversations_of(database: Database, user: User) -> int:
    async with database.read_only() as session:
        return (await ConversationRepository(session).page_for_user(user.id, PageRequest(10))).total


@pytest.mark.parametrize("fail", [register_a_bad_email, make_a_template_twice])
async def test_a_caught_failure_ends_the_unit_of_work_loudly(
    database: Database,
    committed_user: User,
    fail: Callable[[AsyncSession, User], Awaitable[None]],
) -> None:
    """PostgreSQL answers COMMIT in an aborted transaction by rolling back without an error:
    a caller that caught the failure would end its block believing its writes stored."""

    async def converse_then_fail() -> None:
        async with database.unit_of_work() as session:
            await ConversationRepository(session).create(user_id=committed_user.id)
            await fail(session, committed_user)

    with pytest.raises(TransactionAbortedError, match="nothing in it was committed"):
        await converse_then_fail()
    assert await conversations_of(database, committed_user) == 0
    # The connection went back to the pool healthy: the next unit of work commits.
    async with database.unit_of_work() as session:
        await ConversationRepository(session).create(user_id=committed_user.id)
    assert await conversations_of(database, committed_user) == 1


async def test_a_failure_within_a_savepoint_leaves_the_unit_of_work_whole(
    database: Database, committed_user: User
) -> None:
    async with database.unit_of_work() as session:
        await ConversationRepository(session).create(user_id=committed_user.id)
        with pytest.raises(InvalidValueError):
            async with session.begin_nested():
                await UserRepository(session).create_unless_taken(email="bad", password_hash="h")
        await ConversationRepository(session).create(user_id=committed_user.id)
    assert await conversations_of(database, committed_user) == 2


async def test_a_value_the_driver_refused_before_sending_leaves_the_unit_of_work_whole(
    database: Database, committed_user: User
) -> None:
    """asyncpg refuses a malformed UUID itself: the server saw nothing, its transaction is
    intact, and the caller that caught the error may go on and commit."""
    async with database.unit_of_work() as session:
        await ConversationRepository(session).create(user_id=committed_user.id)
        with pytest.raises(InvalidValueError):
            await UserRepository(session).get_by_id("not-a-uuid")  # type: ignore[arg-type]
        await ConversationRepository(session).create(user_id=committed_user.id)
    assert await conversations_of(database, committed_user) == 2


async def test_get_db_answers_a_caught_failure_with_an_error_not_a_success(
    database: Database, committed_user: User
) -> None:
    """A route that catches the data layer's error and carries on fails at the commit, before
    its response is sent (SessionDep), instead of answering 201 for writes that were lost."""
    dependency = get_db(request_to_app_on(database))
    session: AsyncSession = await anext(dependency)
    await ConversationRepository(session).create(user_id=committed_user.id)
    await register_a_bad_email(session)
    with pytest.raises(TransactionAbortedError):
        await anext(dependency)
    assert await conversations_of(database, committed_user) == 0


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
