"""Collections: named sets of videos (a playlist's, a channel's, a list of links), each video
ingested by a job of its own."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models.base import Base, created_at, one_of, owner_fk, updated_at, uuid_pk

COLLECTION_KINDS = ("playlist", "channel", "videos")


class Collection(Base):
    """A named set of videos: a playlist's, a channel's, or a list of links. Its videos are
    ingested by one job each; its progress is read from them (app/services/collections.py)."""

    __tablename__ = "collections"
    __table_args__ = (
        one_of("kind", COLLECTION_KINDS),
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
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    source_url: Mapped[str | None]
    source_id: Mapped[str | None] = mapped_column(String(200))
    # The last listing: why it stopped early, and whether the source held more than the cap.
    listing_error: Mapped[str | None]
    listing_truncated: Mapped[bool] = mapped_column(server_default=text("false"), default=False)
    refreshed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # When the last collection.progress event was recorded: they are throttled.
    progress_event_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class CollectionVideo(Base):
    """One video of a collection, in the collection's order. Its state is its transcript's (the
    owner's, by video id) or its ingest job's; a video the listing found unavailable says why."""

    __tablename__ = "collection_videos"

    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"),
        primary_key=True,
    )
    youtube_video_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[int]
    title: Mapped[str | None] = mapped_column(String(500))
    duration: Mapped[int | None]
    unavailable_reason: Mapped[str | None]
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    added_at: Mapped[datetime] = created_at()
