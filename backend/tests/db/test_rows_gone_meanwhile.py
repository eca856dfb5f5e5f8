"""A row another transaction deleted after this one read it is a NotFoundError naming the row,
as it would have been a moment earlier: never SQLAlchemy's StaleDataError (a 500), never the
foreign key's column."""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.errors import InvalidValueError, NotFoundError
from app.db.models import User
from app.db.repositories import (
    ConversationRepository,
    MessageRepository,
    UsageCounterRepository,
    UserRepository,
)
from app.db.session import Database
from tests.factories import make_user


async def test_an_update_of_a_row_deleted_meanwhile_is_not_found(
    database: Database, committed_user: User
) -> None:
    async with database.unit_of_work() as session:
        conversation = await ConversationRepository(session).create(user_id=committed_user.id)

    async def rename_after_it_is_deleted() -> None:
        async with database.unit_of_work() as session:
            conversations = ConversationRepository(session)
            assert await conversations.get_by_id(conversation.id) is not None
            async with database.unit_of_work() as other:
                await ConversationRepository(other).delete(conversation.id)
            await conversations.update(conversation.id, title="Renamed")

    with pytest.raises(NotFoundError) as raised:
        await rename_after_it_is_deleted()
    assert raised.value.public_message() == f"Conversation {conversation.id} was not found"


async def test_a_change_flushed_by_a_later_read_or_by_the_commit_is_not_found(
    database: Database, committed_user: User
) -> None:
    """An attribute set on a row, then flushed on the way (before the next statement, or at
    commit) after another transaction deleted the row: not found, wherever the flush falls."""

    async def rename_after_it_is_deleted(flushed_by_a_read: bool) -> None:
        async with database.unit_of_work() as session:
            conversation = await ConversationRepository(session).create(user_id=committed_user.id)
        async with database.unit_of_work() as session:
            conversations = ConversationRepository(session)
            row = await conversations.get_by_id(conversation.id)
            assert row is not None
            async with database.unit_of_work() as other:
                await ConversationRepository(other).delete(conversation.id)
            row.title = "Renamed"
            if flushed_by_a_read:
                await conversations.count()

    for flushed_by_a_read in (True, False):
        with pytest.raises(NotFoundError, match="conversation was not found"):
            await rename_after_it_is_deleted(flushed_by_a_read)


async def test_a_reference_to_a_missing_row_names_the_row(session: AsyncSession) -> None:
    await make_user(session)
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError) as raised:
        await MessageRepository(session).create(conversation_id=missing, role="user", content="Hi")
    assert raised.value.public_message() == f"Conversation {missing} was not found"


async def test_a_row_read_afresh_is_the_databases_or_none_when_deleted(
    database: Database, committed_user: User
) -> None:
    async with database.unit_of_work() as session:
        conversation = await ConversationRepository(session).create(user_id=committed_user.id)

    async with database.unit_of_work() as session:
        conversations = ConversationRepository(session)
        held = await conversations.get_by_id(conversation.id)
        async with database.unit_of_work() as other:
            await ConversationRepository(other).update(conversation.id, title="Renamed")
        assert (await conversations.get_afresh(conversation.id)) is held
        assert held is not None
        assert held.title == "Renamed"
        async with database.unit_of_work() as other:
            await ConversationRepository(other).delete(conversation.id)
        assert await conversations.get_afresh(conversation.id) is None
        assert await conversations.get_by_id(conversation.id) is None  # its copy forgotten too


async def test_a_key_postgresql_cannot_read_is_an_invalid_value(session: AsyncSession) -> None:
    """Not the driver's error, on whichever path the read takes."""
    users = UserRepository(session)
    with pytest.raises(InvalidValueError):
        await users.get_by_id("not-a-uuid")  # type: ignore[arg-type]


async def test_a_model_keyed_by_several_columns_refuses_the_by_key_methods(
    session: AsyncSession,
) -> None:
    """A usage counter is keyed by user and action: deleting "by id" on the first of them
    would delete every counter of the user."""
    counters = UsageCounterRepository(session)
    user = await make_user(session)
    with pytest.raises(TypeError, match="key of 2 columns"):
        await counters.delete(user.id)
    with pytest.raises(TypeError, match="key of 2 columns"):
        await counters.get_by_id(user.id)
