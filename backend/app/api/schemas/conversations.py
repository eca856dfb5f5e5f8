from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import AliasChoices, BaseModel, Field

from app.api.schemas.common import NonBlankStr, OrmModel


class ConversationCreate(BaseModel):
    title: str | None = Field(default=None, max_length=500)


class ConversationRename(BaseModel):
    title: str = Field(min_length=1, max_length=500)


class ConversationPublic(OrmModel):
    id: UUID
    title: str | None
    created_at: datetime
    updated_at: datetime


class MessageCreate(BaseModel):
    # The length limit comes from settings (MESSAGE_MAX_CHARS) and is checked in the route.
    content: NonBlankStr = Field(min_length=1)
    transcript_ids: list[UUID] | None = Field(
        default=None, max_length=50, description="Answer from these transcripts only."
    )


class MessagePublic(OrmModel):
    id: UUID
    conversation_id: UUID
    role: Literal["user", "assistant", "system"]
    content: str
    metadata: dict[str, Any] = Field(validation_alias=AliasChoices("meta", "metadata"))
    created_at: datetime


class ChatExchange(BaseModel):
    user_message: MessagePublic
    assistant_message: MessagePublic
