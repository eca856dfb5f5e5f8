from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Text, bindparam, select

from app.db.errors import NotFoundError, database_errors_translated
from app.db.models import Message
from app.db.repositories.base import BaseRepository
from app.db.repositories.hot import HotRead
from app.db.repositories.paging import (
    FIRST_PAGE,
    PageRequest,
    PlainRow,
    RowPage,
    check_page,
    page_statement,
)

# What a message shows of itself through the API; its metadata as JSON text, which a response
# can embed as it is rather than decode and encode again.
PUBLIC_COLUMNS = (
    Message.id,
    Message.conversation_id,
    Message.role,
    Message.content,
    Message.meta.cast(Text).label("metadata_json"),
    Message.created_at,
)

# Built once: building a statement costs more than running it on a hot read.
_PAGE_FOR_CONVERSATION = page_statement(
    Message,
    PUBLIC_COLUMNS,
    Message.conversation_id == bindparam("conversation_id"),
    order_by=[Message.created_at, Message.id],
)


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A message as read, with a Message's attribute names: for code that only reads it."""

    id: UUID
    conversation_id: UUID
    role: str
    content: str
    meta: dict[str, Any]
    created_at: datetime


_LAST_N = HotRead.of(
    select(
        Message.id,
        Message.conversation_id,
        Message.role,
        Message.content,
        Message.meta,
        Message.created_at,
    )
    .where(Message.conversation_id == bindparam("conversation_id"))
    .order_by(Message.created_at.desc(), Message.id.desc())
    .limit(bindparam("n"))
)


class MessageRepository(BaseRepository[Message]):
    model = Message

    async def create(
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
        return await self._insert(
            conversation_id=conversation_id, role=role, content=content, meta=metadata or {}
        )

    async def create_unless_gone(
        self, *, conversation_id: UUID, content: str, metadata: dict[str, Any]
    ) -> Message | None:
        """Append an assistant's message in a savepoint; None when its conversation was deleted
        meanwhile. What the transaction wrote before (the usage of the model that wrote it)
        stands either way."""
        try:
            async with self.session.begin_nested():
                return await self.create(
                    conversation_id=conversation_id,
                    role="assistant",
                    content=content,
                    metadata=metadata,
                )
        except NotFoundError:
            return None

    async def page_for_conversation(
        self, conversation_id: UUID, page: PageRequest = FIRST_PAGE
    ) -> RowPage[PlainRow]:
        """A page of the conversation's messages, oldest first, as plain rows of their public
        columns (`metadata_json` holds the metadata as JSON text), with the total, in one round
        trip."""
        return await self._plain_page(_PAGE_FOR_CONVERSATION, page, conversation_id=conversation_id)

    async def get_last_n(self, conversation_id: UUID, n: int) -> list[MessageRow]:
        """The n newest messages, returned oldest first: the order a prompt needs them in.

        Plain rows, not Message objects: a prompt only reads them, and building 20 objects in
        the identity map cost three times the query; on the read-only engine the statement
        goes straight to asyncpg (a HotRead; `python -m benchmarks.repositories`)."""
        check_page(n, 0)
        async with database_errors_translated():
            newest_first = await _LAST_N.fetch(self.session, conversation_id=conversation_id, n=n)
        return [MessageRow(*row) for row in reversed(newest_first)]
