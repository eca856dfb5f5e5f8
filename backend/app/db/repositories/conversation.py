from collections.abc import Sequence
from uuid import UUID

from app.db.models import Conversation
from app.db.repositories.base import BaseRepository


class ConversationRepository(BaseRepository[Conversation]):
    model = Conversation

    async def create(  # type: ignore[override]
        self, *, user_id: UUID, title: str | None = None
    ) -> Conversation:
        """A new conversation; NotFoundError if the user does not exist."""
        return await super().create(user_id=user_id, title=title)

    async def get_for_user(self, conversation_id: UUID, user_id: UUID) -> Conversation | None:
        """The conversation if it exists and belongs to this user, else None."""
        conversation = await self.get_by_id(conversation_id)
        if conversation is None or conversation.user_id != user_id:
            return None
        return conversation

    async def list_by_user(
        self, user_id: UUID, limit: int = 50, offset: int = 0
    ) -> Sequence[Conversation]:
        """A page of the user's conversations, most recently updated first."""
        return await self.list(
            Conversation.user_id == user_id,
            order_by=[Conversation.updated_at.desc()],
            limit=limit,
            offset=offset,
        )

    async def count_by_user(self, user_id: UUID) -> int:
        """How many conversations the user has."""
        return await self.count(Conversation.user_id == user_id)
