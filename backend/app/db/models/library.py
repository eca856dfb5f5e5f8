"""The transcripts, and what is cut and computed from each: its chunks, their passages, the
passages' embeddings, and its chapters."""

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import (
    CheckConstraint,
    Computed,
    Double,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.models.accounts import User
from app.db.models.base import Base, children, created_at, jsonb_metadata, one_of, owner_fk, uuid_pk

# Full-text search configuration of passages.search_vector (migration 0011).
SEARCH_CONFIG = "english"
CHAPTER_SOURCES = ("description", "computed", "model")


class Transcript(Base):
    __tablename__ = "transcripts"
    __table_args__ = (
        # Per user, not global: two users may ingest the same video.
        UniqueConstraint("user_id", "youtube_video_id"),
        Index("ix_transcripts_metadata", "metadata", postgresql_using="gin"),
        one_of("chapters_source", CHAPTER_SOURCES),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users", index=False)  # uq (user_id, video) leads
    youtube_video_id: Mapped[str] = mapped_column(String(50), index=True)
    title: Mapped[str | None] = mapped_column(String(500))
    channel_name: Mapped[str | None] = mapped_column(String(255))
    duration: Mapped[int | None]
    transcript_text: Mapped[str]
    # A few sentences on the whole video, and where its chapters came from (`chapters`).
    summary: Mapped[str | None]
    chapters_source: Mapped[str | None] = mapped_column(String(20))
    # Counted against the owner's stored-words quota (user_limits.stored_words).
    word_count: Mapped[int] = mapped_column(server_default=text("0"), default=0)
    # The ISO 639-1 code of the language it is spoken in, read from its text when stored
    # (app/services/language.py); null when the text has no words to tell by.
    language: Mapped[str | None] = mapped_column(String(16))
    meta: Mapped[dict[str, Any]] = jsonb_metadata()
    created_at: Mapped[datetime] = created_at()

    user: Mapped[User] = relationship(lazy="raise", back_populates="transcripts")
    chunks: Mapped[list["Chunk"]] = children("transcript")


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (
        UniqueConstraint("transcript_id", "chunk_index"),
        Index("ix_chunks_metadata", "metadata", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    transcript_id: Mapped[uuid.UUID] = owner_fk("transcripts", index=False)  # uq leads with it
    user_id: Mapped[uuid.UUID] = owner_fk("users")
    chunk_text: Mapped[str]
    chunk_index: Mapped[int]
    token_count: Mapped[int]
    meta: Mapped[dict[str, Any]] = jsonb_metadata()
    created_at: Mapped[datetime] = created_at()

    transcript: Mapped[Transcript] = relationship(lazy="raise", back_populates="chunks")


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
    transcript_id: Mapped[uuid.UUID] = mapped_column(index=True)
    user_id: Mapped[uuid.UUID] = owner_fk("users")
    passage_index: Mapped[int]
    passage_text: Mapped[str]
    word_offset: Mapped[int]
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
        ForeignKey("passages.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Copied from the passage when the vector is stored, so that owner and transcript filters
    # apply inside the vector index scan. No foreign key of its own for transcript_id: the
    # passage's cascade removes the row.
    user_id: Mapped[uuid.UUID] = owner_fk("users", index=False)  # the composite index leads
    transcript_id: Mapped[uuid.UUID]
    dims: Mapped[int]
    embedding: Mapped[list[float]] = mapped_column(VECTOR())
    created_at: Mapped[datetime] = created_at()


class Chapter(Base):
    """A part of a transcript on one topic: where it starts, a title and a short summary."""

    __tablename__ = "chapters"
    __table_args__ = (UniqueConstraint("transcript_id", "chapter_index"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    transcript_id: Mapped[uuid.UUID] = owner_fk("transcripts", index=False)
    user_id: Mapped[uuid.UUID] = owner_fk("users")
    chapter_index: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    start_seconds: Mapped[float] = mapped_column(Double)
    end_seconds: Mapped[float | None] = mapped_column(Double)
    summary: Mapped[str]
    created_at: Mapped[datetime] = created_at()
