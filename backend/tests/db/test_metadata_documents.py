"""What a developer storing `metadata` documents through the repositories can rely on: what
update() is given is what is stored, and a document JSON cannot hold is refused, not changed."""

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.errors import ConflictError, InvalidValueError, TransactionAbortedError
from app.db.models import User
from app.db.repositories import (
    ConversationRepository,
    MessageRepository,
    SessionRepository,
    UserRepository,
)
from app.db.session import Database
from tests.factories import make_user


async def new_message(session: AsyncSession, metadata: dict[str, Any]) -> UUID:
    user = await make_user(session)
    conversation = await ConversationRepository(session).create(user_id=user.id)
    message = await MessageRepository(session).create(
        conversation_id=conversation.id, role="user", content="hello", metadata=metadata
    )
    return message.id


async def test_a_document_changed_in_place_and_updated_is_stored(session: AsyncSession) -> None:
    messages = MessageRepository(session)
    message_id = await new_message(session, {"a": 1})
    message = await messages.get_existing(message_id)

    message.meta["b"] = 2  # the natural way: read it, add a key, hand it back
    await messages.update(message_id, metadata=message.meta)

    assert (await messages.get_afresh(message_id)).meta == {"a": 1, "b": 2}  # type: ignore[union-attr]


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
async def test_nan_and_infinities_are_refused_rather_than_stored_as_null(
    session: AsyncSession, number: float
) -> None:
    with pytest.raises(InvalidValueError, match="NaN and infinities") as refused:
        async with session.begin_nested():
            await new_message(session, {"scores": [1.5, {"deep": number}]})
    assert refused.value.column == "metadata"


async def test_a_document_with_nulls_and_finite_numbers_is_stored_as_given(
    session: AsyncSession,
) -> None:
    document = {"missing": None, "ratio": 0.25, "big": 2**70, "list": [None, -1e-300]}
    message_id = await new_message(session, document)
    stored = await MessageRepository(session).get_afresh(message_id)
    assert stored is not None
    assert stored.meta == document


async def test_metadata_updated_to_none_is_refused_naming_the_column(
    session: AsyncSession,
) -> None:
    message_id = await new_message(session, {"a": 1})
    with pytest.raises(InvalidValueError) as refused:
        async with session.begin_nested():
            await MessageRepository(session).update(message_id, metadata=None)
    assert refused.value.column == "metadata"


async def test_a_statement_after_a_caught_failed_create_is_told_why_it_cannot_run(
    database: Database, committed_user: User
) -> None:
    """A create() whose flush failed (here a session token's hash that is taken) leaves
    SQLAlchemy's transaction rolled back: the next statement says so in the data layer's
    words, as a failed plain statement does."""
    expires_at = datetime.now(UTC) + timedelta(days=1)
    async with database.unit_of_work() as session:
        await SessionRepository(session).create(
            user_id=committed_user.id, token_hash="taken-hash", expires_at=expires_at
        )
    async with database.unit_of_work() as session:
        with pytest.raises(ConflictError):
            await SessionRepository(session).create(
                user_id=committed_user.id, token_hash="taken-hash", expires_at=expires_at
            )
        with pytest.raises(TransactionAbortedError, match="a flush"):
            await UserRepository(session).get_by_id(committed_user.id)
        await session.rollback()
