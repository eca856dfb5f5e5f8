"""The tables, as typed SQLAlchemy 2.0 mappings.

The migrations in `alembic/versions/` own the schema; these mappings must describe exactly the
same thing (`alembic check` proves it in the tests). DATABASE_SCHEMA.md explains every choice.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    Double,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.db.types import Document

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MESSAGE_ROLES = ("user", "assistant", "system")
JOB_KINDS = ("youtube_ingest", "embed")
JOB_STATUSES = ("queued", "running", "done", "failed")
USAGE_KINDS = ("chat", "draft", "chapters")
WEBHOOK_EVENTS = (
    "job.succeeded",
    "job.failed",
    "transcript.ready",
    "collection.progress",
    "collection.ready",
)
WEBHOOK_DELIVERY_STATUSES = ("pending", "succeeded", "failed")
COLLECTION_KINDS = ("playlist", "channel", "videos")
CHAPTER_SOURCES = ("description", "computed", "model")
# Full-text search configuration of chunks.search_vector (migration 0004).
SEARCH_CONFIG = "english"
TEMPLATE_TYPES = ("linkedin", "twitter", "blog", "email")
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class LoginFailureScope(StrEnum):
    """What a login_failures counter counts attempts of."""

    EMAIL_CLIENT = "email_client"  # one email from one client address
    CLIENT = "client"  # one client address, whatever the email
    EMAIL = "email"  # one email, from every address
    SIGNUP_CLIENT = "signup_client"  # sign-ups from one client address


class LimitedAction(StrEnum):
    """Costly work counted against a user's limits (usage_counters.action)."""

    ASK = "ask"  # a question in a conversation
    DRAFT = "draft"
    INGEST = "ingest"  # a link to fetch, a caption upload or a stored transcript
    SEARCH = "search"
    WEBHOOK_TEST = "webhook_test"  # a test ping sent to an endpoint


class ApiKeyScope(StrEnum):
    """What an API key may do. A session token may do all of it."""

    READ = "read"  # read anything the user owns, and search it
    WRITE = "write"  # ask, draft, add and delete videos, conversations and templates
    ADMIN = "admin"  # manage API keys and webhooks, and the administrators' routes


def _quoted_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Read server-generated values (ids, timestamps set by defaults or triggers) back in the same
    # INSERT/UPDATE ... RETURNING: an async session cannot lazy-load them afterwards.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012


def uuid_pk() -> Mapped[uuid.UUID]:
    # The client generates the key so that the ORM can batch many INSERTs into one statement;
    # the server default still covers rows written by plain SQL.
    return mapped_column(
        UUID(as_uuid=True),
        primary_key=True,
        default=uuid.uuid4,
        server_default=func.gen_random_uuid(),
    )


def created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def updated_at() -> Mapped[datetime]:
    # Moved on every UPDATE by the set_updated_at() trigger (migration 0001).
    return mapped_column(
        DateTime(timezone=True),
        nullable=False,
        server_default=func.now(),
        server_onupdate=FetchedValue(),
    )


def owner_fk(table: str, *, nullable: bool = False, index: bool = True) -> Mapped[Any]:
    # index=False only where a composite index leads with this column and serves it already.
    return mapped_column(
        UUID(as_uuid=True),
        ForeignKey(f"{table}.id", ondelete="CASCADE"),
        nullable=nullable,
        index=index,
    )


def jsonb_metadata() -> Mapped[dict[str, Any]]:
    # `metadata` is reserved on declarative classes, so the attribute is `meta`.
    return mapped_column(
        "metadata", Document, nullable=False, server_default=text("'{}'::jsonb"), default=dict
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"email ~* '{EMAIL_PATTERN}'", name="email_format"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(255), nullable=False, unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    # Granted only from the command line (`python -m app.cli grant-admin EMAIL`), never by the API.
    is_admin: Mapped[bool] = mapped_column(
        nullable=False, server_default=text("false"), default=False
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    sessions: Mapped[list["Session"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    conversations: Mapped[list["Conversation"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    transcripts: Mapped[list["Transcript"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    templates: Mapped[list["Template"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    api_keys: Mapped[list["ApiKey"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class Session(Base):
    """A login session. Only the SHA-256 hash of its bearer token is stored."""

    __tablename__ = "sessions"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users")
    token_hash: Mapped[str] = mapped_column(String(255), nullable=False, unique=True, index=True)
    expires_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
    created_at: Mapped[datetime] = created_at()

    user: Mapped[User] = relationship(back_populates="sessions")


class ApiKey(Base):
    """A long-lived credential for scripts and agents. Only its SHA-256 hash is stored; the
    prefix is kept in clear so that an owner can tell keys apart."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(
            f"cardinality(scopes) > 0 AND scopes <@ ARRAY[{_quoted_list(tuple(ApiKeyScope))}]"
            "::varchar[]",
            name="scopes_allowed",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users")
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    key_prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True, index=True)
    scopes: Mapped[list[str]] = mapped_column(
        ARRAY(String(10)),
        nullable=False,
        server_default=text("'{read,write}'"),
        default=lambda: [ApiKeyScope.READ.value, ApiKeyScope.WRITE.value],
    )
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(back_populates="api_keys")


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

    user: Mapped[User] = relationship(back_populates="conversations")
    messages: Mapped[list["Message"]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", passive_deletes=True
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(f"role IN ({_quoted_list(MESSAGE_ROLES)})", name="role_allowed"),
        Index("ix_messages_metadata", "metadata", postgresql_using="gin"),
        # A conversation's messages in order (pages and the last n) straight from the index.
        Index("ix_messages_conversation_id_created_at", "conversation_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    conversation_id: Mapped[uuid.UUID] = owner_fk("conversations", index=False)
    role: Mapped[str] = mapped_column(String(50), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    meta: Mapped[dict[str, Any]] = jsonb_metadata()
    # clock_timestamp(), not now(): a question and its answer are often written in one
    # transaction and must keep their order.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        nullable=False,
        server_default=func.clock_timestamp(),
        index=True,
    )

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Transcript(Base):
    __tablename__ = "transcripts"
    __table_args__ = (
        # Per user, not global: two users may ingest the same video.
        UniqueConstraint("user_id", "youtube_video_id"),
        Index("ix_transcripts_metadata", "metadata", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users", index=False)  # uq (user_id, video) leads
    youtube_video_id: Mapped[str] = mapped_column(String(50), nullable=False, index=True)
    title: Mapped[str | None] = mapped_column(String(500))
    channel_name: Mapped[str | None] = mapped_column(String(255))
    duration: Mapped[int | None] = mapped_column(Integer)
    transcript_text: Mapped[str] = mapped_column(Text, nullable=False)
    # A few sentences on the whole video, and where its chapters came from (`chapters`).
    summary: Mapped[str | None] = mapped_column(Text)
    chapters_source: Mapped[str | None] = mapped_column(String(20))
    # Counted against the owner's stored-words quota (user_limits.stored_words).
    word_count: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0"), default=0
    )
    meta: Mapped[dict[str, Any]] = jsonb_metadata()
    created_at: Mapped[datetime] = created_at()

    user: Mapped[User] = relationship(back_populates="transcripts")
    chunks: Mapped[list["Chunk"]] = relationship(
        back_populates="transcript", cascade="all, delete-orphan", passive_deletes=True
    )


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (
        UniqueConstraint("transcript_id", "chunk_index"),
        Index("ix_chunks_metadata", "metadata", postgresql_using="gin"),
        Index("ix_chunks_search_vector", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    transcript_id: Mapped[uuid.UUID] = owner_fk("transcripts", index=False)  # uq leads with it
    user_id: Mapped[uuid.UUID] = owner_fk("users")
    chunk_text: Mapped[str] = mapped_column(Text, nullable=False)
    chunk_index: Mapped[int] = mapped_column(Integer, nullable=False)
    token_count: Mapped[int] = mapped_column(Integer, nullable=False)
    meta: Mapped[dict[str, Any]] = jsonb_metadata()
    created_at: Mapped[datetime] = created_at()
    # Maintained by PostgreSQL from chunk_text; never written by the application.
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(f"to_tsvector('{SEARCH_CONFIG}', chunk_text)", persisted=True),
        deferred=True,
    )

    transcript: Mapped[Transcript] = relationship(back_populates="chunks")


class Template(Base):
    """A content template. `user_id` NULL marks a built-in template offered to everyone."""

    __tablename__ = "templates"
    __table_args__ = (
        CheckConstraint(
            f"template_type IN ({_quoted_list(TEMPLATE_TYPES)})", name="template_type_allowed"
        ),
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
    template_type: Mapped[str] = mapped_column(String(50), nullable=False)
    template_name: Mapped[str] = mapped_column(String(255), nullable=False)
    template_content: Mapped[str] = mapped_column(Text, nullable=False)
    variables: Mapped[list[Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb"), default=list
    )
    is_default: Mapped[bool] = mapped_column(
        nullable=False, server_default=text("false"), default=False
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    user: Mapped[User | None] = relationship(back_populates="templates")


class Config(Base):
    """Application-wide key/value settings stored as JSON."""

    __tablename__ = "config"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = updated_at()


class ConfigChange(Base):
    """One change of a runtime setting's override: who made it, when, the override before and
    after (NULL: none, the default applied). Written in the transaction of the change."""

    __tablename__ = "config_changes"
    __table_args__ = (Index("ix_config_changes_key_changed_at", "key", text("changed_at DESC")),)

    id: Mapped[uuid.UUID] = uuid_pk()
    key: Mapped[str] = mapped_column(String(100), nullable=False)
    old_value: Mapped[Any] = mapped_column(JSONB(none_as_null=True), nullable=True)
    new_value: Mapped[Any] = mapped_column(JSONB(none_as_null=True), nullable=True)
    # The history outlives the administrator who made the change.
    changed_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # clock_timestamp(): two changes in one transaction keep their order.
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()
    )


class Job(Base):
    """A background job. Workers claim queued jobs with FOR UPDATE SKIP LOCKED; a running job
    whose heartbeat stops (its worker died) is claimed again."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_quoted_list(JOB_KINDS)})", name="kind_allowed"),
        CheckConstraint(f"status IN ({_quoted_list(JOB_STATUSES)})", name="status_allowed"),
        # One live-or-finished ingest job per user and video: asking again returns that job.
        Index(
            "uq_jobs_one_active_per_user_video",
            "user_id",
            "youtube_video_id",
            unique=True,
            # Literal, and repeated in JobRepository: see ACTIVE_INGEST_PREDICATE there.
            postgresql_where=text(
                "kind = 'youtube_ingest' AND status IN ('queued', 'running', 'done')"
            ),
        ),
        Index("ix_jobs_user_id_created_at", "user_id", text("created_at DESC")),
        Index("ix_jobs_queued_run_after", "run_after", postgresql_where=text("status = 'queued'")),
        Index(
            "ix_jobs_running_heartbeat_at",
            "heartbeat_at",
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk(
        "users", index=False
    )  # the (user_id, created_at) index leads
    kind: Mapped[str] = mapped_column(
        String(50), nullable=False, server_default=text("'youtube_ingest'")
    )
    youtube_video_id: Mapped[str] = mapped_column(String(50), nullable=False)
    languages: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[\"en\"]'::jsonb"), default=lambda: ["en"]
    )
    status: Mapped[str] = mapped_column(
        String(20), nullable=False, server_default=text("'queued'"), default="queued"
    )
    attempts: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0"), default=0
    )
    max_attempts: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("5"), default=5
    )
    run_after: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    locked_by: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    transcript_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("transcripts.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    error_code: Mapped[str | None] = mapped_column(String(50))  # migration 0007: the last column


class UsageEvent(Base):
    """Tokens one language-model call used, for the usage ledger."""

    __tablename__ = "usage_events"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_quoted_list(USAGE_KINDS)})", name="kind_allowed"),
        Index("ix_usage_events_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users", index=False)  # the composite index leads
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    provider: Mapped[str] = mapped_column(String(50), nullable=False)
    model: Mapped[str] = mapped_column(String(200), nullable=False)
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False)
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = created_at()


class LoginFailure(Base):
    """A counter of login attempts for one key, shared by every process; the policy that reads it
    is app/services/login_throttle.py.

    Keys are SHA-256 digests, never the email or the address itself. A counter whose `expires_at`
    has passed counts as zero: the next attempt starts a new window at 1, and the purge deletes it.
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        CheckConstraint(
            f"scope IN ({_quoted_list(tuple(LoginFailureScope))})", name="scope_allowed"
        ),
        CheckConstraint("failures >= 0", name="failures_not_negative"),
    )

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The attempt counted before the last one, in the same window: how soon the last came after it.
    previous_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )


class Passage(Base):
    """A run of whole caption cues inside a chunk, short enough for the embedding model to read
    whole: the unit search ranks by (app/services/passages.py). Chunks overlap, so the words of
    an overlap are in a passage of each chunk."""

    __tablename__ = "passages"
    __table_args__ = (
        UniqueConstraint("chunk_id", "passage_index"),
        Index("ix_passages_search_vector", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    chunk_id: Mapped[uuid.UUID] = owner_fk("chunks", index=False)  # uq leads with it
    # Copied from the chunk so that searches filter without a join; the chunk's cascade
    # removes the row.
    transcript_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    user_id: Mapped[uuid.UUID] = owner_fk("users")
    passage_index: Mapped[int] = mapped_column(Integer, nullable=False)
    passage_text: Mapped[str] = mapped_column(Text, nullable=False)
    word_offset: Mapped[int] = mapped_column(Integer, nullable=False)
    start_seconds: Mapped[float | None] = mapped_column(Double)
    end_seconds: Mapped[float | None] = mapped_column(Double)
    created_at: Mapped[datetime] = created_at()
    # Maintained by PostgreSQL from passage_text; never written by the application.
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(f"to_tsvector('{SEARCH_CONFIG}', passage_text)", persisted=True),
        deferred=True,
    )


class PassageEmbedding(Base):
    """A passage's vector under one embedding model. Several models' vectors coexist: the
    column has no fixed length, and each (model, dims) gets its own partial HNSW index, created
    at run time (app/db/vector_index.py)."""

    __tablename__ = "passage_embeddings"
    __table_args__ = (
        CheckConstraint("vector_dims(embedding) = dims", name="dims_match"),
        # The owner's vectors of a model: a user with few passages is searched exactly through
        # this index; it also serves the cascade from users.
        Index("ix_passage_embeddings_user_id_model", "user_id", "model"),
    )

    passage_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("passages.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Copied from the passage when the vector is stored, so that owner and transcript filters
    # apply inside the vector index scan. No foreign key of its own for transcript_id: the
    # passage's cascade removes the row.
    user_id: Mapped[uuid.UUID] = owner_fk("users", index=False)  # the composite index leads
    transcript_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    dims: Mapped[int] = mapped_column(Integer, nullable=False)
    embedding: Mapped[list[float]] = mapped_column(VECTOR(), nullable=False)
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
        CheckConstraint(f"action IN ({_quoted_list(tuple(LimitedAction))})", name="action_allowed"),
        CheckConstraint("used >= 0", name="used_not_negative"),
    )

    # The primary key leads with user_id, so it also serves the cascade from users.
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    action: Mapped[str] = mapped_column(String(20), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used: Mapped[int] = mapped_column(Integer, nullable=False)


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
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    asks_per_minute: Mapped[int | None] = mapped_column(Integer)
    drafts_per_minute: Mapped[int | None] = mapped_column(Integer)
    ingests_per_hour: Mapped[int | None] = mapped_column(Integer)
    tokens_per_day: Mapped[int | None] = mapped_column(BigInteger)
    searches_per_minute: Mapped[int | None] = mapped_column(Integer)
    webhook_tests_per_hour: Mapped[int | None] = mapped_column(Integer)
    stored_words: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = updated_at()


class TokenReservation(Base):
    """Language-model tokens set aside for an answer or a draft under way, so that answers
    started together cannot all pass the daily token limit (app/services/usage_limits.py). Taken
    back when the work records its usage; one left by a crashed process counts until it expires."""

    __tablename__ = "token_reservations"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users")
    tokens: Mapped[int] = mapped_column(Integer, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = created_at()


class Invitation(Base):
    """An administrator's invitation to sign up while open sign-up is off. Only the SHA-256 of
    its token is stored; an email, when given, is the only one it admits."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = uuid_pk()
    created_by: Mapped[uuid.UUID] = owner_fk("users")
    email: Mapped[str | None] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()


class WebhookEndpoint(Base):
    """A URL a user wants told about events. The secret signs each delivery (Standard
    Webhooks), so it is kept as is, not hashed: DATABASE_SCHEMA.md says why."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index("ix_webhook_endpoints_user_id_created_at", "user_id", text("created_at DESC")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users", index=False)  # the composite index leads
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    events: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    # Encrypted with WEBHOOK_SECRET_KEYS (app/services/webhooks/secrets.py).
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    # The secret before the last rotation, still signing beside the new one until it expires.
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enabled: Mapped[bool] = mapped_column(nullable=False, server_default=text("true"), default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0"), default=0
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class WebhookDelivery(Base):
    """One event for one endpoint, written in the transaction that made the event happen (an
    outbox), then sent, and retried, by the delivery loop."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(
            f"status IN ({_quoted_list(WEBHOOK_DELIVERY_STATUSES)})", name="status_allowed"
        ),
        Index(
            "ix_webhook_deliveries_endpoint_id_created_at", "endpoint_id", text("created_at DESC")
        ),
        Index(
            "ix_webhook_deliveries_pending_next_attempt_at",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    )
    event_type: Mapped[str] = mapped_column(String(50), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(
        String(20), nullable=False, server_default=text("'pending'"), default="pending"
    )
    attempts: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0"), default=0
    )
    last_response_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    # clock_timestamp(), not now(): deliveries are listed in the order their events happened,
    # and a worker's transaction can record several events.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()
    )
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Collection(Base):
    """A named set of videos: a playlist's, a channel's, or a list of links. Its videos are
    ingested by one job each; its progress is read from them (app/services/collections.py)."""

    __tablename__ = "collections"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_quoted_list(COLLECTION_KINDS)})", name="kind_allowed"),
        Index("ix_collections_user_id_created_at", "user_id", text("created_at DESC")),
        # One collection per playlist or channel and user: adding it again is a refresh.
        Index(
            "uq_collections_user_id_kind_source_id",
            "user_id",
            "kind",
            "source_id",
            unique=True,
            postgresql_where=text("source_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users", index=False)  # the composite index leads
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    source_url: Mapped[str | None] = mapped_column(Text)
    source_id: Mapped[str | None] = mapped_column(String(200))
    # The last listing: why it stopped early, and whether the source held more than the cap.
    listing_error: Mapped[str | None] = mapped_column(Text)
    listing_truncated: Mapped[bool] = mapped_column(
        nullable=False, server_default=text("false"), default=False
    )
    refreshed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    # When the last collection.progress event was recorded: they are throttled.
    progress_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class CollectionVideo(Base):
    """One video of a collection, in the collection's order. Its state is its transcript's (the
    owner's, by video id) or its ingest job's; a video the listing found unavailable says why."""

    __tablename__ = "collection_videos"

    collection_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("collections.id", ondelete="CASCADE"),
        primary_key=True,
    )
    youtube_video_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str | None] = mapped_column(String(500))
    duration: Mapped[int | None] = mapped_column(Integer)
    unavailable_reason: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    added_at: Mapped[datetime] = created_at()


class Chapter(Base):
    """A part of a transcript on one topic: where it starts, a title and a short summary."""

    __tablename__ = "chapters"
    __table_args__ = (
        UniqueConstraint("transcript_id", "chapter_index"),
        CheckConstraint(f"source IN ({_quoted_list(CHAPTER_SOURCES)})", name="source_allowed"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    transcript_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("transcripts.id", ondelete="CASCADE"),
        nullable=False,
    )
    user_id: Mapped[uuid.UUID] = owner_fk("users")
    chapter_index: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    start_seconds: Mapped[float] = mapped_column(Double, nullable=False)
    end_seconds: Mapped[float | None] = mapped_column(Double)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[datetime] = created_at()
