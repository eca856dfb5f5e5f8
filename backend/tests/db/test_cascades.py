"""ON DELETE CASCADE, seen from the data: deleting an owner leaves nothing of theirs behind."""

import uuid

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import (
    Base,
    Chunk,
    Conversation,
    Message,
    Passage,
    PassageEmbedding,
    Session,
    Template,
    Transcript,
)
from app.db.repositories import (
    ChunkRepository,
    ConversationRepository,
    MessageRepository,
    PassageEmbeddingRepository,
    SessionRepository,
    TemplateRepository,
    UserRepository,
)
from tests.factories import (
    in_hours,
    make_conversation,
    make_passages,
    make_transcript,
    make_user,
)


async def rows_of(session: AsyncSession, model: type[Base], **where: object) -> int:
    conditions = [getattr(model, name) == value for name, value in where.items()]
    statement = select(func.count()).select_from(model).where(*conditions)
    return int(await session.scalar(statement) or 0)


async def test_deleting_a_user_deletes_everything_they_own(session: AsyncSession) -> None:
    user, bystander = await make_user(session), await make_user(session)
    conversation_of: dict[uuid.UUID, uuid.UUID] = {}
    for owner in (user, bystander):
        await SessionRepository(session).create(
            user_id=owner.id, token_hash=f"tok-{owner.id}", expires_at=in_hours(1)
        )
        conversation = await make_conversation(session, owner)
        conversation_of[owner.id] = conversation.id
        await MessageRepository(session).create(
            conversation_id=conversation.id, role="user", content="hi"
        )
        await make_transcript(session, owner, chunks=3)
        with_passages = await make_transcript(session, owner, "cascadeVid1")
        passages = await make_passages(session, with_passages, 2)
        await PassageEmbeddingRepository(session).store_many(
            "cascade-model", [(passage, [1.0, 0.0]) for passage in passages]
        )
        await TemplateRepository(session).create(
            user_id=owner.id, template_type="blog", template_name="t", template_content="x"
        )
    user_id = user.id

    assert await UserRepository(session).delete(user_id) is True

    for model in (Session, Conversation, Transcript, Chunk, Passage, PassageEmbedding, Template):
        assert await rows_of(session, model, user_id=user_id) == 0, model.__tablename__
        assert await rows_of(session, model, user_id=bystander.id) > 0, model.__tablename__
    gone, kept = conversation_of[user_id], conversation_of[bystander.id]
    assert await rows_of(session, Message, conversation_id=gone) == 0
    assert await rows_of(session, Message, conversation_id=kept) == 1


def identity(obj: Base) -> tuple[object, ...]:
    return tuple(inspect(obj).identity or ())


async def test_a_deleted_conversation_and_its_messages_are_not_handed_out_again(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    conversation = await make_conversation(session, user)
    messages = MessageRepository(session)
    message = await messages.create(conversation_id=conversation.id, role="user", content="hi")
    kept = await make_conversation(session, user)
    kept_message = await messages.create(conversation_id=kept.id, role="user", content="stay")

    assert await ConversationRepository(session).delete(conversation.id) is True

    assert await ConversationRepository(session).get_by_id(conversation.id) is None
    assert await messages.get_by_id(message.id) is None
    assert await messages.get_by_id(kept_message.id) is kept_message


async def test_a_deleted_user_takes_the_whole_chain_out_of_the_session(
    session: AsyncSession,
) -> None:
    user, bystander = await make_user(session), await make_user(session)
    loaded: dict[uuid.UUID, tuple[Base, ...]] = {}
    for owner in (user, bystander):
        conversation = await make_conversation(session, owner)
        message = await MessageRepository(session).create(
            conversation_id=conversation.id, role="user", content="hi"
        )
        transcript = await make_transcript(session, owner, chunks=2)
        chunk = (await ChunkRepository(session).page_for_transcript(transcript.id)).rows[0]
        loaded[owner.id] = (owner, conversation, message, transcript, chunk)

    assert await UserRepository(session).delete(user.id) is True

    for obj in loaded[user.id]:
        assert await session.get(type(obj), identity(obj)) is None, type(obj).__name__
    for obj in loaded[bystander.id]:
        assert await session.get(type(obj), identity(obj)) is obj, type(obj).__name__
