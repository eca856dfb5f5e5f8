"""What a developer calling the repositories gets when the database refuses: the data layer's
own errors, never a driver's text, a row's values or a statement's parameters."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.errors import (
    ConcurrentUpdateError,
    ConflictError,
    InvalidValueError,
    NotFoundError,
    TransactionAbortedError,
    is_database_unavailable,
)
from app.db.migrations import upgrade_to_head
from app.db.models import User
from app.db.repositories import (
    ConversationRepository,
    MessageRepository,
    SessionRepository,
    UserRepository,
)
from app.db.session import Database
from tests.factories import make_user

SECRET_HASH = "argon2-hash-that-must-stay-secret"


async def test_a_refused_row_is_not_repeated_in_the_error(session: AsyncSession) -> None:
    """A check's refusal carries the whole failing row in PostgreSQL's detail: a password's
    hash among its values, which the error (raised, logged) must not hold."""
    with pytest.raises(InvalidValueError) as refused:
        async with session.begin_nested():
            await UserRepository(session).create_unless_taken(
                email="not-an-email", password_hash=SECRET_HASH
            )

    assert refused.value.constraint is not None
    assert refused.value.detail is None
    assert SECRET_HASH not in str(refused.value)
    assert "not-an-email" not in str(refused.value)


async def test_a_missing_value_names_its_column(session: AsyncSession) -> None:
    user = await make_user(session)
    conversation = await ConversationRepository(session).create(user_id=user.id)

    with pytest.raises(InvalidValueError) as refused:
        async with session.begin_nested():
            await MessageRepository(session).create(
                conversation_id=conversation.id,
                role="user",
                content=None,  # type: ignore[arg-type]
            )

    assert refused.value.column == "content"
    assert refused.value.table == "messages"


async def test_a_statement_after_a_caught_failure_is_told_why_it_cannot_run(
    database: Database, committed_user: User
) -> None:
    async with database.unit_of_work() as session:
        users = UserRepository(session)
        with pytest.raises(InvalidValueError):
            await users.create_unless_taken(email="bad", password_hash="h")
        with pytest.raises(TransactionAbortedError, match="begin_nested"):
            await users.get_by_id(committed_user.id)
        await session.rollback()


async def test_update_takes_a_column_by_the_name_create_takes(session: AsyncSession) -> None:
    user = await make_user(session)
    conversation = await ConversationRepository(session).create(user_id=user.id)
    messages = MessageRepository(session)
    message = await messages.create(
        conversation_id=conversation.id, role="user", content="hi", metadata={"a": 1}
    )

    updated = await messages.update(message.id, metadata={"a": 2})

    assert updated.meta == {"a": 2}
    with pytest.raises(TypeError, match="no column"):
        await messages.update(message.id, metdata={})


async def test_two_units_of_work_in_each_others_way_end_one_with_an_error_to_retry(
    database: Database, committed_user: User
) -> None:
    """Each takes one row and then wants the other's: PostgreSQL ends one (a deadlock). Its
    error says to run it again, without the statement's values."""
    async with database.unit_of_work() as session:
        conversations = ConversationRepository(session)
        first = (await conversations.create(user_id=committed_user.id, title="x")).id
        second = (await conversations.create(user_id=committed_user.id, title="y")).id
    both_hold_one = asyncio.Barrier(2)

    async def rename(one: object, other: object, title: str) -> None:
        async with database.unit_of_work() as session:
            conversations = ConversationRepository(session)
            await conversations.update(one, title=title)  # type: ignore[arg-type]
            await both_hold_one.wait()
            await conversations.update(other, title=title)  # type: ignore[arg-type]

    outcomes = await asyncio.gather(
        rename(first, second, "renamed-by-one"),
        rename(second, first, "renamed-by-two"),
        return_exceptions=True,
    )

    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], ConcurrentUpdateError)
    assert "run it again" in str(failures[0])
    assert "renamed-by" not in str(failures[0])
    assert str(first) not in str(failures[0])


async def test_migrating_from_async_code_says_how_to_do_it() -> None:
    """resolve_database() may start the embedded server and migrate it; called from inside a
    coroutine it said `asyncio.run() cannot be called from a running event loop`."""
    with pytest.raises(RuntimeError, match=r"before asyncio.run\(\)"):
        upgrade_to_head("postgresql+asyncpg://nobody@127.0.0.1:9/none")


async def test_a_unit_of_work_cut_by_a_timeout_raises_the_timeout(database: Database) -> None:
    """The cancelled statement invalidates the connection; the rollback that follows must
    leave the caller with its TimeoutError (or a task its cancellation), not another error."""

    async def sleeping() -> None:
        async with database.unit_of_work() as session:
            await session.execute(text("SELECT pg_sleep(5)"))

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await sleeping()

    task = asyncio.create_task(sleeping())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_a_connection_lost_mid_unit_of_work_is_an_outage(database: Database) -> None:
    """A server restart or failover under a unit of work: an error `is_database_unavailable`
    recognises (the API's 503 and Retry-After), not a PendingRollbackError."""

    async def lose_the_connection() -> None:
        async with database.unit_of_work() as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with database.read_only() as other:
                await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await session.execute(text("SELECT 1"))

    with pytest.raises(Exception) as lost:  # noqa: PT011 - which driver error is the point
        await lose_the_connection()

    assert is_database_unavailable(lost.value), repr(lost.value)


async def test_a_duplicate_names_its_key_columns_but_not_the_value(session: AsyncSession) -> None:
    """A unique token hash (or an email) is a parameter: the error's text, which is logged,
    names the key's columns; `fields` holds the value for code that maps it to a request."""
    user = await make_user(session)
    expires_at = datetime.now(UTC) + timedelta(days=1)
    sessions = SessionRepository(session)
    await sessions.create(user_id=user.id, token_hash=SECRET_HASH, expires_at=expires_at)

    with pytest.raises(ConflictError) as taken:
        async with session.begin_nested():
            await sessions.create(user_id=user.id, token_hash=SECRET_HASH, expires_at=expires_at)

    assert SECRET_HASH not in str(taken.value)
    assert "Key (token_hash) already exists" in str(taken.value)
    assert taken.value.fields == {"token_hash": SECRET_HASH}


async def test_a_missing_referenced_row_is_named_by_the_key_type_get_existing_uses(
    session: AsyncSession,
) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError) as refused:
        async with session.begin_nested():
            await ConversationRepository(session).create(user_id=missing)
    assert refused.value.key == missing


async def test_a_datetime_without_its_zone_is_refused(session: AsyncSession) -> None:
    """asyncpg would read it in the writing process's local time (TZ): a session's expiry
    would depend on where it was written."""
    user = await make_user(session)
    with pytest.raises(InvalidValueError, match="time zone"):
        async with session.begin_nested():
            await SessionRepository(session).create(
                user_id=user.id, token_hash="naive", expires_at=datetime(2030, 1, 1, 12, 0)
            )
