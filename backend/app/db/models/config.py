"""The runtime settings stored in the database, and the history of their changes."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models.base import Base, updated_at, uuid_pk


class Config(Base):
    """Application-wide key/value settings stored as JSON."""

    __tablename__ = "config"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB, nullable=False)
    description: Mapped[str | None]
    updated_at: Mapped[datetime] = updated_at()


class ConfigChange(Base):
    """One change of a runtime setting's override: who made it, when, the override before and
    after (NULL: none, the default applied). Written in the transaction of the change."""

    __tablename__ = "config_changes"
    __table_args__ = (Index("ix_config_changes_key_changed_at", "key", text("changed_at DESC")),)

    id: Mapped[uuid.UUID] = uuid_pk()
    key: Mapped[str] = mapped_column(String(100))
    old_value: Mapped[Any] = mapped_column(JSONB(none_as_null=True), nullable=True)
    new_value: Mapped[Any] = mapped_column(JSONB(none_as_null=True), nullable=True)
    # The history outlives the administrator who made the change.
    changed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # clock_timestamp(): two changes in one transaction keep their order.
    changed_at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())
