"""Collections: a playlist's or a channel's videos (or a list of links), ingested one job each,
with their progress.

A collection's videos are listed once (`app/services/youtube/listing.py`, yt-dlp's flat
extraction, at most `COLLECTION_MAX_VIDEOS`), then each video the user has not stored yet gets
an ingest job; a video already stored counts as done at once, and one the listing found private
or deleted as failed, with the reason. Every queued video counts against the user's ingests per
hour. Refreshing lists again and adds only the videos the collection does not hold.

Progress is read, not kept: a video is done when the owner has its transcript, failed when its
job failed (or the listing found it unavailable), pending otherwise. Each job that settles
records, in its own transaction and under the collection's row lock, `collection.ready` when
nothing is pending any more, else `collection.progress` at most every
`COLLECTION_PROGRESS_EVENT_SECONDS`.
"""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.db.errors import NotFoundError
from app.db.models import Collection, LimitedAction
from app.db.repositories import JobRepository, TranscriptRepository
from app.db.repositories.collection import CollectionRepository, NewCollectionVideo, VideoState
from app.services.usage_limits import admit_and_commit
from app.services.webhooks.events import COLLECTION_PROGRESS, COLLECTION_READY, record_event
from app.services.youtube.listing import ListedVideo

VideoStatus = Literal["done", "failed", "pending"]
# Before any job of the collection has finished, a guess of one video's fetch and store.
DEFAULT_SECONDS_PER_VIDEO = 8.0


@dataclass(frozen=True, slots=True)
class VideoProgress:
    video_id: str
    title: str | None
    duration_seconds: int | None
    status: VideoStatus
    transcript_id: UUID | None
    job_id: UUID | None
    reason: str | None
    error_code: str | None


@dataclass(frozen=True, slots=True)
class Progress:
    total: int
    done: int
    failed: int
    pending: int
    eta_seconds: int | None
    videos: list[VideoProgress] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.pending == 0

    def summary(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "pending": self.pending,
            "ready": self.ready,
        }


def video_progress(state: VideoState) -> VideoProgress:
    status: VideoStatus = "pending"
    reason, code = state.unavailable_reason, None
    if state.transcript_id is not None:
        status, reason = "done", None
    elif reason is not None:
        status, code = "failed", "unavailable"
    elif state.job_status == "failed":
        status, reason, code = "failed", state.job_error, state.job_error_code
    elif state.job_status == "done" or state.job_id is None:
        # Stored once, deleted since (or its job is gone): nothing will bring it back.
        status, reason, code = "failed", "its transcript was deleted", "deleted"
    return VideoProgress(
        state.youtube_video_id,
        state.title,
        state.duration,
        status,
        state.transcript_id,
        state.job_id,
        reason,
        code,
    )


def seconds_per_video(states: Sequence[VideoState]) -> float:
    """How long this collection's finished jobs took, typically."""
    took = [
        (state.job_finished_at - state.job_started_at).total_seconds()
        for state in states
        if state.job_started_at and state.job_finished_at and state.job_status == "done"
    ]
    return statistics.median(took) if took else DEFAULT_SECONDS_PER_VIDEO


def progress_of(states: Sequence[VideoState], workers: int) -> Progress:
    videos = [video_progress(state) for state in states]
    counts = {status: sum(video.status == status for video in videos) for status in VIDEO_STATUSES}
    pending = counts["pending"]
    eta = None
    if pending:
        eta = round(pending * seconds_per_video(states) / max(workers, 1))
    return Progress(len(videos), counts["done"], counts["failed"], pending, eta, videos)


VIDEO_STATUSES: tuple[VideoStatus, ...] = ("done", "failed", "pending")


async def progress(session: AsyncSession, collection_id: UUID, settings: Settings) -> Progress:
    states = await CollectionRepository(session).states(collection_id)
    return progress_of(states, settings.job_workers)


async def progress_of_each(
    session: AsyncSession, collection_ids: Sequence[UUID], settings: Settings
) -> dict[UUID, Progress]:
    """`progress` of each collection, read in one query (a page of the list)."""
    states = await CollectionRepository(session).states_of(*collection_ids)
    return {key: progress_of(videos, settings.job_workers) for key, videos in states.items()}


@dataclass(frozen=True, slots=True)
class Plan:
    """What adding these videos to a collection does: which get a job."""

    new: list[ListedVideo]
    to_fetch: list[ListedVideo]


async def plan(
    session: AsyncSession, user_id: UUID, videos: Sequence[ListedVideo], known: set[str]
) -> Plan:
    """The videos not in the collection yet, and among them those to fetch: available, and not
    stored by the user already."""
    new, seen = [], set(known)
    for video in videos:
        if video.video_id not in seen:
            seen.add(video.video_id)
            new.append(video)
    stored = await TranscriptRepository(session).stored_video_ids(
        user_id, [video.video_id for video in new]
    )
    to_fetch = [v for v in new if v.unavailable_reason is None and v.video_id not in stored]
    return Plan(new, to_fetch)


async def admit_videos(
    session: AsyncSession, user_id: UUID, planned: Plan, settings: Settings
) -> None:
    """Count each video to fetch against the ingests per hour (LimitReachedError when they do
    not all fit), committed at once, before anything is written."""
    if planned.to_fetch:
        await admit_and_commit(
            session, user_id, LimitedAction.INGEST, settings, amount=len(planned.to_fetch)
        )


async def add_videos(
    session: AsyncSession, collection: Collection, planned: Plan, settings: Settings
) -> int:
    """Queue a job for each video to fetch and add the new videos to the collection, in the
    session's transaction; returns how many jobs were queued (created or already active)."""
    repository = CollectionRepository(session)
    jobs = await JobRepository(session).enqueue_ingests(
        user_id=collection.user_id,
        video_ids=[video.video_id for video in planned.to_fetch],
        languages=settings.ingest_languages,
        max_attempts=settings.job_max_attempts,
    )
    job_ids = {video: job.id for video, (job, _) in jobs.items()}
    start = await repository.next_position(collection.id)
    await repository.add_videos(
        collection.id,
        [
            NewCollectionVideo(
                youtube_video_id=video.video_id,
                position=start + offset,
                title=video.title,
                duration=video.duration,
                unavailable_reason=video.unavailable_reason,
                job_id=job_ids.get(video.video_id),
            )
            for offset, video in enumerate(planned.new)
        ],
    )
    return len(job_ids)


def event_data(collection: Collection, current: Progress) -> dict[str, Any]:
    return {"collection_id": str(collection.id), "name": collection.name} | current.summary()


async def report(
    session: AsyncSession, collection: Collection, settings: Settings, *, throttle: bool = True
) -> Progress:
    """Record `collection.ready` when nothing is pending, else `collection.progress` unless one
    was recorded within `COLLECTION_PROGRESS_EVENT_SECONDS` (`throttle`). Call it under the
    collection's row lock (`CollectionRepository.lock`)."""
    current = await progress(session, collection.id, settings)
    if current.ready:
        await record_event(
            session, collection.user_id, COLLECTION_READY, event_data(collection, current)
        )
        return current
    gap = timedelta(seconds=settings.collection_progress_event_seconds)
    last = collection.progress_event_at
    if throttle and last is not None and datetime.now(UTC) - last < gap:
        return current
    await record_event(
        session, collection.user_id, COLLECTION_PROGRESS, event_data(collection, current)
    )
    await CollectionRepository(session).record_progress_event(collection.id)
    return current


async def video_stored(
    session: AsyncSession, user_id: UUID, video_id: str, settings: Settings
) -> None:
    """A video was stored by the user's own upload, in the session's transaction: tell the
    collections holding it, whose failed or pending video is done now. (A job's video is
    told by `job_settled`.)"""
    held_by = await CollectionRepository(session).containing_video(user_id, video_id)
    await report_to_each(session, held_by, settings)


async def job_settled(session: AsyncSession, job_id: UUID, settings: Settings) -> None:
    """An ingest job finished or failed for good, in the session's transaction: tell the
    collections it was queued for."""
    queued_for = await CollectionRepository(session).containing_job(job_id)
    await report_to_each(session, queued_for, settings)


async def report_to_each(
    session: AsyncSession, collection_ids: Sequence[UUID], settings: Settings
) -> None:
    """`report` for each collection, each under its row lock, taken in id order: two
    transactions telling the same collections never wait on each other in a circle."""
    repository = CollectionRepository(session)
    for collection_id in sorted(collection_ids):
        try:
            collection = await repository.lock(collection_id)
        except NotFoundError:  # deleted meanwhile: nobody to tell
            continue
        await report(session, collection, settings)
