"""ON DELETE CASCADE, seen from the data: deleting an owner leaves nothing of theirs behind."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Base, Chunk, Conversation, Message, Session, Template, Transcript
from app.db.repositories import (
    MessageRepository,
    SessionRepository,
    TemplateRepository,
    UserRepository,
)
from tests.factories import in_hours, make_conversation, make_transcript, make_user


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
        await TemplateRepository(session).create_template(
            user_id=owner.id, template_type="blog", template_name="t", template_content="x"
        )
    user_id = user.id

    assert await UserRepository(session).delete(user_id) is True

    for model in (Session, Conversation, Transcript, Chunk, Template):
        assert await rows_of(session, model, user_id=user_id) == 0, model.__tablename__
        assert await rows_of(session, model, user_id=bystander.id) > 0, model.__tablename__
    gone, kept = conversation_of[user_id], conversation_of[bystander.id]
    assert await rows_of(session, Message, conversation_id=gone) == 0
    assert await rows_of(session, Message, conversation_id=kept) == 1
