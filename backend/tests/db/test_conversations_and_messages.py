import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.errors import InvalidValueError, NotFoundError
from app.db.models import Conversation, Message
from app.db.repositories import ConversationRepository, MessageRepository
from app.db.repositories.paging import PageRequest
from tests.factories import make_conversation, make_user


async def fresh_updated_at(session: AsyncSession, conversation_id: uuid.UUID) -> object:
    statement = select(Conversation.updated_at).where(Conversation.id == conversation_id)
    return await session.scalar(statement)


async def test_create_get_and_owner_scope(session: AsyncSession) -> None:
    owner, stranger = await make_user(session), await make_user(session)
    conversations = ConversationRepository(session)
    conversation = await conversations.create(user_id=owner.id)

    assert conversation.title is None
    assert await conversations.get_by_id(conversation.id) is conversation
    assert await conversations.get_for_user(conversation.id, owner.id) is conversation
    assert await conversations.get_for_user(conversation.id, stranger.id) is None
    assert await conversations.get_for_user(uuid.uuid4(), owner.id) is None


async def test_page_for_user_is_most_recently_updated_first_and_paginated(
    session: AsyncSession,
) -> None:
    user, other = await make_user(session), await make_user(session)
    user_id = user.id
    conversations = ConversationRepository(session)
    made = [await make_conversation(session, user, f"c{i}") for i in range(4)]
    first_conversation_id = made[0].id
    await make_conversation(session, other, "not mine")
    # Give each a distinct age: c0 oldest ... c3 newest.
    ages = {
        conversation.id: (conversation.created_at, age)
        for age, conversation in enumerate(reversed(made))
    }
    for conversation_id, (created, age) in ages.items():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(updated_at=created - timedelta(minutes=age))
            .execution_options(synchronize_session=False)
        )
    session.expire_all()

    first_page = await conversations.page_for_user(user_id, PageRequest(3))
    second_page = await conversations.page_for_user(user_id, PageRequest(3, 3))

    assert [row["title"] for row in first_page.rows] == ["c3", "c2", "c1"]
    assert [row["title"] for row in second_page.rows] == ["c0"]
    assert first_page.total == second_page.total == 4

    await MessageRepository(session).create(
        conversation_id=first_conversation_id, role="user", content="bump"
    )
    newest = await conversations.page_for_user(user_id, PageRequest(1))
    assert [row["title"] for row in newest.rows] == ["c0"]


async def test_a_title_is_given_only_to_an_untitled_conversation(session: AsyncSession) -> None:
    """Of first questions asked at once, each titles the conversation if none has yet: the
    first to be stored keeps it."""
    conversations = ConversationRepository(session)
    conversation = await conversations.create(user_id=(await make_user(session)).id)

    await conversations.title_if_untitled(conversation.id, "The first question")
    await conversations.title_if_untitled(conversation.id, "The second question")

    titled = await conversations.get_afresh(conversation.id)
    assert titled is not None
    assert titled.title == "The first question"


async def test_message_insert_moves_conversation_updated_at(session: AsyncSession) -> None:
    """The AFTER INSERT trigger, inside one transaction: clock_timestamp(), not now()."""
    conversation = await make_conversation(session, await make_user(session))
    before = await fresh_updated_at(session, conversation.id)

    await MessageRepository(session).create(
        conversation_id=conversation.id, role="user", content="hello"
    )

    after = await fresh_updated_at(session, conversation.id)
    assert after > before  # type: ignore[operator]


async def test_rename_moves_updated_at(session: AsyncSession) -> None:
    conversations = ConversationRepository(session)
    conversation = await make_conversation(session, await make_user(session), "old")
    before = conversation.updated_at

    renamed = await conversations.update(conversation.id, title="new")

    assert renamed.title == "new"
    assert renamed.updated_at > before


async def test_messages_oldest_first_paginated(session: AsyncSession) -> None:
    conversation = await make_conversation(session, await make_user(session))
    messages = MessageRepository(session)
    for i in range(5):
        role = "user" if i % 2 == 0 else "assistant"
        await messages.create(conversation_id=conversation.id, role=role, content=f"m{i}")

    page = await messages.page_for_conversation(conversation.id, PageRequest(3))
    rest = await messages.page_for_conversation(conversation.id, PageRequest(3, 3))

    assert [row["content"] for row in page.rows] == ["m0", "m1", "m2"]
    assert [row["content"] for row in rest.rows] == ["m3", "m4"]
    assert page.total == rest.total == 5


async def test_get_last_n_returns_the_newest_oldest_first(session: AsyncSession) -> None:
    conversation = await make_conversation(session, await make_user(session))
    messages = MessageRepository(session)
    for i in range(10):
        await messages.create(conversation_id=conversation.id, role="user", content=f"m{i}")

    last = await messages.get_last_n(conversation.id, 3)

    assert [m.content for m in last] == ["m7", "m8", "m9"]
    assert len(await messages.get_last_n(conversation.id, 50)) == 10
    assert await messages.get_last_n(uuid.uuid4(), 5) == []


async def test_metadata_round_trips_nested_and_unicode(session: AsyncSession) -> None:
    conversation = await make_conversation(session, await make_user(session))
    metadata = {
        "citations": [{"chunk": 3, "t": 12.5}, {"chunk": 9, "t": None}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 42},
        "note": "naïve café — 日本語 ✅",
        "flags": [True, False],
    }
    message = await MessageRepository(session).create(
        conversation_id=conversation.id, role="assistant", content="answer", metadata=metadata
    )
    session.expunge_all()

    stored = await session.get(Message, message.id)

    assert stored is not None
    assert stored.meta == metadata


async def test_metadata_is_queryable_through_the_gin_index_operator(session: AsyncSession) -> None:
    conversation = await make_conversation(session, await make_user(session))
    messages = MessageRepository(session)
    await messages.create(
        conversation_id=conversation.id, role="assistant", content="a", metadata={"partial": True}
    )
    await messages.create(conversation_id=conversation.id, role="assistant", content="b")

    statement = select(Message.content).where(
        Message.conversation_id == conversation.id, Message.meta.contains({"partial": True})
    )
    assert (await session.scalars(statement)).all() == ["a"]


async def test_unknown_role_and_unknown_conversation(session: AsyncSession) -> None:
    conversation = await make_conversation(session, await make_user(session))
    messages = MessageRepository(session)
    with pytest.raises(InvalidValueError, match="ck_messages_role_allowed"):
        await messages.create(conversation_id=conversation.id, role="robot", content="x")
    await session.rollback()
    with pytest.raises(NotFoundError, match="conversations"):
        await messages.create(conversation_id=uuid.uuid4(), role="user", content="x")


async def test_deleting_a_conversation_deletes_its_messages(session: AsyncSession) -> None:
    conversation = await make_conversation(session, await make_user(session))
    messages = MessageRepository(session)
    await messages.create(conversation_id=conversation.id, role="user", content="x")

    assert await ConversationRepository(session).delete(conversation.id) is True

    assert (await messages.page_for_conversation(conversation.id)).total == 0


async def test_plain_pages_follow_on_and_keep_the_total_past_the_end(
    session: AsyncSession,
) -> None:
    user, other = await make_user(session), await make_user(session)
    conversations = ConversationRepository(session)
    for n in range(5):
        await make_conversation(session, user, f"c{n}")
    await make_conversation(session, other, "not mine")

    seen = []
    for limit, offset in ((2, 0), (2, 2), (2, 4), (3, 7)):
        page = await conversations.page_for_user(user.id, PageRequest(limit, offset))
        seen += [row["title"] for row in page.rows]
        assert (page.total, page.limit, page.offset) == (5, limit, offset)
    assert sorted(seen) == ["c0", "c1", "c2", "c3", "c4"]
    assert set((await conversations.page_for_user(user.id, PageRequest(1))).rows[0]) == {
        "id",
        "title",
        "transcript_ids",
        "collection_ids",
        "created_at",
        "updated_at",
    }
    nobody = await conversations.page_for_user(uuid.uuid4(), PageRequest(10))
    assert (nobody.rows, nobody.total) == ([], 0)


async def test_a_page_of_messages_carries_the_metadata_as_json_text(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    conversation = await make_conversation(session, user, "chat")
    messages = MessageRepository(session)
    await messages.create(
        conversation_id=conversation.id, role="user", content="hi", metadata={"n": [1, 2]}
    )
    await messages.create(conversation_id=conversation.id, role="assistant", content="hello")

    page = await messages.page_for_conversation(conversation.id, PageRequest(1, 1))

    assert page.total == 2
    [row] = page.rows
    assert (row["role"], row["content"], row["metadata_json"]) == ("assistant", "hello", "{}")
    first = (await messages.page_for_conversation(conversation.id, PageRequest(1, 0))).rows[0]
    assert first["metadata_json"] == '{"n": [1, 2]}'


async def test_ownership_is_checked_without_loading_the_conversation(
    session: AsyncSession,
) -> None:
    owner, stranger = await make_user(session), await make_user(session)
    conversation = await make_conversation(session, owner, "mine")
    conversations = ConversationRepository(session)

    assert await conversations.is_owned_by(conversation.id, owner.id) is True
    assert await conversations.is_owned_by(conversation.id, stranger.id) is False
    assert await conversations.is_owned_by(uuid.uuid4(), owner.id) is False


async def test_a_relationship_never_loads_behind_the_callers_back(session: AsyncSession) -> None:
    """An async session cannot load on attribute access: reading one says so plainly (and where
    to look), instead of SQLAlchemy's MissingGreenlet about greenlets."""
    conversation = await make_conversation(session, await make_user(session))
    with pytest.raises(InvalidRequestError, match="lazy='raise'"):
        _ = conversation.messages
