"""The background jobs that the workers (app/worker.py) claim and run."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models.base import Base, created_at, one_of, owner_fk, status_index, updated_at, uuid_pk

JOB_KINDS = ("youtube_ingest", "embed")
JOB_STATUSES = ("queued", "running", "done", "failed")


class Job(Base):
    """A background job. Workers claim queued jobs with FOR UPDATE SKIP LOCKED; a running job
    whose heartbeat stops (its worker died) is claimed again."""

    __tablename__ = "jobs"
    __table_args__ = (
        one_of("kind", JOB_KINDS),
        one_of("status", JOB_STATUSES),
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
        status_index("jobs", "queued", "run_after"),
        status_index("jobs", "running", "heartbeat_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # Not indexed alone: the (user_id, created_at) index leads with it.
    user_id: Mapped[uuid.UUID] = owner_fk("users", index=False)
    kind: Mapped[str] = mapped_column(String(50), server_default=text("'youtube_ingest'"))
    youtube_video_id: Mapped[str] = mapped_column(String(50))
    languages: Mapped[list[str]] = mapped_column(
        JSONB, server_default=text("'[\"en\"]'::jsonb"), default=lambda: ["en"]
    )
    status: Mapped[str] = mapped_column(
        String(20), server_default=text("'queued'"), default="queued"
    )
    attempts: Mapped[int] = mapped_column(server_default=text("0"), default=0)
    max_attempts: Mapped[int] = mapped_column(server_default=text("5"), default=5)
    run_after: Mapped[datetime] = mapped_column(server_default=func.now())
    locked_by: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at: Mapped[datetime | None]
    error: Mapped[str | None]
    transcript_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    error_code: Mapped[str | None] = mapped_column(String(50))  # migration 0007: the last column
