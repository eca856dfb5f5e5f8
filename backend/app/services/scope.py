"""Which transcripts a question or a search may cite: the whole library, or chosen videos and
collections (a collection stands for the videos it holds now, so a video added by a refresh is
in scope at once)."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Conversation
from app.db.repositories import CollectionRepository


async def scoped_transcripts(
    session: AsyncSession,
    user_id: UUID,
    transcript_ids: Sequence[UUID] | None,
    collection_ids: Sequence[UUID] | None,
) -> list[UUID] | None:
    """None for the whole library; else the chosen transcripts and those of the chosen
    collections' videos (empty when none is stored yet: nothing can be cited)."""
    if transcript_ids is None and collection_ids is None:
        return None
    chosen = set(transcript_ids or ())
    if collection_ids:
        chosen |= set(await CollectionRepository(session).transcript_ids(user_id, collection_ids))
    return sorted(chosen)


def narrowed(scope: Sequence[UUID] | None, asked: Sequence[UUID] | None) -> list[UUID] | None:
    """A question's own `transcript_ids` within its conversation's scope."""
    if scope is None:
        return None if asked is None else list(asked)
    if asked is None:
        return list(scope)
    allowed = set(scope)
    return [transcript_id for transcript_id in asked if transcript_id in allowed]


async def conversation_scope(
    session: AsyncSession, conversation: Conversation
) -> list[UUID] | None:
    """What the conversation's answers (and drafts saved into it) may cite."""
    return await scoped_transcripts(
        session,
        conversation.user_id,
        conversation.scope_transcript_ids,
        conversation.scope_collection_ids,
    )
