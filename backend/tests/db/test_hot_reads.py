"""Hot reads (app/db/repositories/hot.py): on the read-only engine, get_by_id and get_last_n go
straight to asyncpg and give what SQLAlchemy gives; elsewhere, and on any error, SQLAlchemy
runs them."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Integer, bindparam, inspect, literal_column, select, text
from sqlalchemy.exc import DBAPIError

from app.db.errors import InvalidValueError, database_errors_translated, is_database_unavailable
from app.db.models import Message, PassageEmbedding, User
from app.db.repositories import ConversationRepository, MessageRepository, UserRepository
from app.db.repositories.hot import HotRead, primary_key_read
from app.db.session import Database
from tests.factories import make_user
from tests.statements import engine_of, statements_sent


@dataclass(frozen=True)
class Conversation:
    user_id: uuid.UUID
    conversation_id: uuid.UUID


@pytest.fixture
async def conversation(database: Database) -> AsyncIterator[Conversation]:
    """A user with a three-message conversation, committed (read_only() sees committed rows)."""
    async with database.unit_of_work() as session:
        user = await make_user(session, f"hot-{uuid.uuid4().hex[:8]}@example.com")
        chat = await ConversationRepository(session).create(user_id=user.id, title="hot")
        messages = MessageRepository(session)
        for index, role in enumerate(("user", "assistant", "user")):
            await messages.create(
                conversation_id=chat.id,
                role=role,
                content=f"message {index}",
                metadata={"index": index, "tags": ["a", "b"]},
            )
    yield Conversation(user.id, chat.id)
    async with database.unit_of_work() as session:
        await UserRepository(session).delete(user.id)


async def test_get_last_n_on_the_read_engine_skips_sqlalchemy_and_gives_the_same_rows(
    database: Database, conversation: Conversation
) -> None:
    async with database.unit_of_work() as session:
        expected = await MessageRepository(session).get_last_n(conversation.conversation_id, 2)
    async with database.read_only() as session:
        await session.connection()
        with statements_sent(engine_of(session)) as statements:
            rows = await MessageRepository(session).get_last_n(conversation.conversation_id, 2)
    assert statements == []
    assert rows == expected
    assert [row.content for row in rows] == ["message 1", "message 2"]
    assert rows[0].meta == {"index": 1, "tags": ["a", "b"]}
    assert [type(getattr(rows[0], name)) for name in ("id", "meta", "created_at")] == [
        type(getattr(expected[0], name)) for name in ("id", "meta", "created_at")
    ]


async def test_get_by_id_on_the_read_engine_gives_a_persistent_instance_of_the_session(
    database: Database, conversation: Conversation
) -> None:
    async with database.unit_of_work() as session:
        expected = await UserRepository(session).get_by_id(conversation.user_id)
        assert expected is not None
        names = [prop.key for prop in inspect(User).column_attrs]
        loaded = {name: getattr(expected, name) for name in names}
    async with database.read_only() as session:
        users = UserRepository(session)
        await session.connection()
        with statements_sent(engine_of(session)) as statements:
            user = await users.get_by_id(conversation.user_id)
            again = await users.get_by_id(conversation.user_id)
        assert statements == []
        assert user is not None
        assert again is user
        state = inspect(user)
        assert state.persistent
        assert not state.modified
        assert user in session
        assert {name: getattr(user, name) for name in loaded} == loaded
        assert await users.get_by_id(uuid.uuid4()) is None


async def test_a_row_read_on_the_read_engine_can_be_updated_like_a_loaded_one(
    database: Database, conversation: Conversation
) -> None:
    async with database.read_only() as session:
        users = UserRepository(session)
        user = await users.get_by_id(conversation.user_id)
        assert user is not None
        await users.update(user.id, is_admin=True)
        assert user.is_admin is True
    async with database.unit_of_work() as session:
        stored = await UserRepository(session).get_by_id(conversation.user_id)
        assert stored is not None
        assert stored.is_admin is True


async def test_in_a_transaction_sqlalchemy_runs_the_reads(
    database: Database, conversation: Conversation
) -> None:
    async with database.unit_of_work() as session:
        await session.connection()
        with statements_sent(engine_of(session)) as statements:
            await UserRepository(session).get_by_id(conversation.user_id)
            await MessageRepository(session).get_last_n(conversation.conversation_id, 2)
    assert len(statements) == 2


async def test_an_error_on_the_asyncpg_path_is_raised_as_sqlalchemy_raises_it(
    database: Database,
) -> None:
    division = HotRead.of(select(literal_column("1") / bindparam("divisor", type_=Integer)))
    async with database.read_only() as session:
        with pytest.raises(DBAPIError):
            await division.fetch(session, divisor=0)
        with pytest.raises(InvalidValueError):  # division by zero is a data exception
            async with database_errors_translated():
                await division.fetch(session, divisor=0)
        assert await division.fetch(session, divisor=1) == [(1,)]


async def test_a_connection_lost_under_a_hot_read_is_an_outage_then_replaced(
    database: Database, conversation: Conversation
) -> None:
    async with database.read_only() as session:
        await UserRepository(session).get_by_id(conversation.user_id)  # connected
        backend = await session.scalar(text("SELECT pg_backend_pid()"))
        async with database.unit_of_work() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        with pytest.raises(DBAPIError) as lost:
            await MessageRepository(session).get_last_n(conversation.conversation_id, 2)
    assert is_database_unavailable(lost.value)
    assert lost.value.connection_invalidated
    async with database.read_only() as session:
        assert await UserRepository(session).get_by_id(conversation.user_id) is not None


def test_reads_sqlalchemy_would_convert_are_refused() -> None:
    with pytest.raises(ValueError, match="bindparam"):
        HotRead.of(select(Message.id).where(Message.role == "user"))
    with pytest.raises(ValueError, match="converts"):
        HotRead.of(
            select(PassageEmbedding.embedding).where(PassageEmbedding.passage_id == bindparam("id"))
        )
    assert primary_key_read(PassageEmbedding) is None
    assert primary_key_read(User) is not None
