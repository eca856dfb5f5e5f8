"""What users spend and may spend: the ledger of language-model tokens, the counters of costly
actions, administrators' overrides of the limits, and the tokens set aside for work under way."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models.base import Base, created_at, one_of, owner_fk, updated_at, uuid_pk

USAGE_KINDS = ("chat", "draft", "chapters")


class LimitedAction(StrEnum):
    """Costly work counted against a user's limits (usage_counters.action)."""

    ASK = "ask"  # a question in a conversation
    DRAFT = "draft"
    INGEST = "ingest"  # a link to fetch, a caption upload or a stored transcript
    SEARCH = "search"
    WEBHOOK_TEST = "webhook_test"  # a test ping, or a delivery sent again, to an endpoint


class UsageEvent(Base):
    """Tokens one language-model call used, for the usage ledger."""

    __tablename__ = "usage_events"
    __table_args__ = (
        one_of("kind", USAGE_KINDS),
        Index("ix_usage_events_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users", index=False)  # the composite index leads
    kind: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200))
    prompt_tokens: Mapped[int]
    completion_tokens: Mapped[int]
    created_at: Mapped[datetime] = created_at()


class UsageCounter(Base):
    """How many times a user was admitted to one costly action in the current window, shared by
    every process; the policy that reads it is app/services/usage_limits.py.

    One row per user and action, counted over fixed windows aligned to the clock (a minute, an
    hour): a row whose `window_start` is before the current window's counts as zero, and the next
    admission starts the new window at 1. The table never holds more than users x actions rows.
    """

    __tablename__ = "usage_counters"
    __table_args__ = (
        one_of("action", LimitedAction),
        CheckConstraint("used >= 0", name="used_not_negative"),
    )

    # The primary key leads with user_id, so it also serves the cascade from users.
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    action: Mapped[str] = mapped_column(String(20), primary_key=True)
    window_start: Mapped[datetime]
    used: Mapped[int]


class UserLimit(Base):
    """An administrator's override of one user's limits. NULL keeps the server's default for
    that limit, 0 lifts it."""

    __tablename__ = "user_limits"
    __table_args__ = (
        CheckConstraint(
            "asks_per_minute >= 0 AND drafts_per_minute >= 0 AND ingests_per_hour >= 0 "
            "AND tokens_per_day >= 0 AND searches_per_minute >= 0 "
            "AND webhook_tests_per_hour >= 0 AND stored_words >= 0",
            name="limits_not_negative",
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    asks_per_minute: Mapped[int | None]
    drafts_per_minute: Mapped[int | None]
    ingests_per_hour: Mapped[int | None]
    tokens_per_day: Mapped[int | None] = mapped_column(BigInteger)
    searches_per_minute: Mapped[int | None]
    webhook_tests_per_hour: Mapped[int | None]
    stored_words: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = updated_at()


class TokenReservation(Base):
    """Language-model tokens set aside for an answer or a draft under way, so that answers
    started together cannot all pass the daily token limit (app/services/usage_limits.py). Taken
    back when the work records its usage; one left by a crashed process counts until it expires."""

    __tablename__ = "token_reservations"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users")
    tokens: Mapped[int]
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = created_at()
