from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.db.models import Message
from app.db.repositories.base import BaseRepository, check_page


class MessageRepository(BaseRepository[Message]):
    model = Message

    async def create(  # type: ignore[override]
        self,
        *,
        conversation_id: UUID,
        role: str,
        content: str,
        metadata: dict[str, Any] | None = None,
    ) -> Message:
        """Append a message; its conversation's updated_at moves (trigger).

        NotFoundError if the conversation does not exist, InvalidValueError for an unknown role.
        """
        return await super().create(
            conversation_id=conversation_id, role=role, content=content, meta=metadata or {}
        )

    async def list_by_conversation(
        self, conversation_id: UUID, limit: int = 50, offset: int = 0
    ) -> Sequence[Message]:
        """A page of the conversation's messages, oldest first."""
        return await self.list(
            Message.conversation_id == conversation_id,
            order_by=[Message.created_at],
            limit=limit,
            offset=offset,
        )

    async def count_by_conversation(self, conversation_id: UUID) -> int:
        """How many messages the conversation has."""
        return await self.count(Message.conversation_id == conversation_id)

    async def get_last_n(self, conversation_id: UUID, n: int) -> list[Message]:
        """The n newest messages, returned oldest first: the order a prompt needs them in."""
        check_page(n, 0)
        statement = (
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(n)
        )
        newest_first = await self.scalars(statement)
        return list(reversed(newest_first))
