from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import bindparam, update

from app.db.models import Conversation
from app.db.repositories.base import UserOwnedRepository
from app.db.repositories.paging import FIRST_PAGE, PageRequest, PlainRow, RowPage, page_statement

# What a conversation shows of itself through the API.
PUBLIC_COLUMNS = (
    Conversation.id,
    Conversation.title,
    Conversation.scope_transcript_ids.label("transcript_ids"),
    Conversation.scope_collection_ids.label("collection_ids"),
    Conversation.created_at,
    Conversation.updated_at,
)


# Built once: building a statement costs more than running it on a hot read.
_PAGE_FOR_USER = page_statement(
    Conversation,
    PUBLIC_COLUMNS,
    Conversation.user_id == bindparam("user_id"),
    order_by=[Conversation.updated_at.desc(), Conversation.id],
)


class ConversationRepository(UserOwnedRepository[Conversation]):
    model = Conversation

    async def create(
        self,
        *,
        user_id: UUID,
        title: str | None = None,
        transcript_ids: Sequence[UUID] | None = None,
        collection_ids: Sequence[UUID] | None = None,
    ) -> Conversation:
        """A new conversation, scoped when ids are given; NotFoundError if the user does not
        exist."""
        return await self._insert(
            user_id=user_id,
            title=title,
            scope_transcript_ids=None if transcript_ids is None else list(transcript_ids),
            scope_collection_ids=None if collection_ids is None else list(collection_ids),
        )

    async def page_for_user(
        self, user_id: UUID, page: PageRequest = FIRST_PAGE
    ) -> RowPage[PlainRow]:
        """A page of the user's conversations, most recently updated first, as plain rows of
        their public columns, with the total, in one round trip."""
        return await self._plain_page(_PAGE_FOR_USER, page, user_id=user_id)

    async def title_if_untitled(self, conversation_id: UUID, title: str) -> None:
        """Give the conversation this title unless it has one: of first questions asked at
        once, the first to be stored titles it, not the last."""
        statement = (
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.title.is_(None))
            .values(title=title)
            .execution_options(synchronize_session=False)
        )
        await self.execute(statement)
