"""Conversations and their messages, and the templates that drafts are written from."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.models.accounts import User
from app.db.models.base import (
    Base,
    children,
    created_at,
    jsonb_metadata,
    one_of,
    owner_fk,
    updated_at,
    uuid_pk,
)

MESSAGE_ROLES = ("user", "assistant", "system")
TEMPLATE_TYPES = ("linkedin", "twitter", "blog", "email")


class Conversation(Base):
    __tablename__ = "conversations"
    # A user's conversations, most recently updated first, straight from the index.
    __table_args__ = (
        Index("ix_conversations_user_id_updated_at", "user_id", text("updated_at DESC")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users", index=False)
    title: Mapped[str | None] = mapped_column(String(500))
    # What its questions may cite: these transcripts and the videos of these collections (both
    # NULL: the whole library). Ids that no longer exist are ignored when the scope is read.
    scope_transcript_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(UUID(as_uuid=True)))
    scope_collection_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(UUID(as_uuid=True)))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    user: Mapped[User] = relationship(lazy="raise", back_populates="conversations")
    messages: Mapped[list["Message"]] = children("conversation")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        one_of("role", MESSAGE_ROLES),
        Index("ix_messages_metadata", "metadata", postgresql_using="gin"),
        # A conversation's messages in order (pages and the last n) straight from the index.
        Index("ix_messages_conversation_id_created_at", "conversation_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    conversation_id: Mapped[uuid.UUID] = owner_fk("conversations", index=False)
    role: Mapped[str] = mapped_column(String(50))
    content: Mapped[str]
    meta: Mapped[dict[str, Any]] = jsonb_metadata()
    # clock_timestamp(), not now(): a question and its answer are often written in one
    # transaction and must keep their order.
    created_at: Mapped[datetime] = mapped_column(
        server_default=func.clock_timestamp(),
        index=True,
    )

    conversation: Mapped[Conversation] = relationship(lazy="raise", back_populates="messages")


class Template(Base):
    """A content template. `user_id` NULL marks a built-in template offered to everyone."""

    __tablename__ = "templates"
    __table_args__ = (
        one_of("template_type", TEMPLATE_TYPES),
        UniqueConstraint(
            "user_id", "template_type", "template_name", postgresql_nulls_not_distinct=True
        ),
        Index("ix_templates_template_type_is_default", "template_type", "is_default"),
        # At most one default per (owner, type); the built-ins (NULL owner) count as one owner.
        Index(
            "uq_templates_one_default_per_owner_type",
            "user_id",
            "template_type",
            unique=True,
            postgresql_where=text("is_default"),
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID | None] = owner_fk("users", nullable=True, index=False)  # uq leads
    template_type: Mapped[str] = mapped_column(String(50))
    template_name: Mapped[str] = mapped_column(String(255))
    template_content: Mapped[str]
    variables: Mapped[list[Any]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb"), default=list
    )
    is_default: Mapped[bool] = mapped_column(server_default=text("false"), default=False)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    user: Mapped[User | None] = relationship(lazy="raise", back_populates="templates")
