from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert

from app.db.errors import ConflictError, database_errors_translated
from app.db.models import Job
from app.db.repositories.base import UserListedRepository

INGEST = "youtube_ingest"
EMBED = "embed"
PENDING = ("queued", "running")
ACTIVE_OR_DONE = (*PENDING, "done")
# The predicate of uq_jobs_one_active_per_user_video, written literally (see _INSERT_INGEST).
ACTIVE_INGEST_PREDICATE = text(
    "kind = 'youtube_ingest' AND status IN ('queued', 'running', 'done')"
)


_INSERT_INGEST = (
    insert(Job)
    .on_conflict_do_nothing(
        index_elements=[Job.user_id, Job.youtube_video_id],
        # Literal, as in the index: with bound values, a generic prepared plan could not prove
        # the predicate and PostgreSQL would find no arbiter index.
        index_where=ACTIVE_INGEST_PREDICATE,
    )
    .returning(Job)
)


class JobRepository(UserListedRepository[Job]):
    """Background jobs: enqueued by requests, claimed and finished by workers."""

    model = Job
    read_afresh = True  # the workers change jobs behind any session's back

    async def enqueue_ingest(
        self, *, user_id: UUID, video_id: str, languages: Sequence[str], max_attempts: int
    ) -> tuple[Job, bool]:
        """The user's queued, running or done job for this video, else a new queued one.
        Returns (job, created); see enqueue_ingests."""
        jobs = await self.enqueue_ingests(
            user_id=user_id, video_ids=[video_id], languages=languages, max_attempts=max_attempts
        )
        return jobs[video_id]

    async def active_or_done_ingests(self, user_id: UUID, video_ids: Sequence[str]) -> list[Job]:
        """The user's queued, running or done ingest jobs of these videos (one each at most)."""
        statement = select(Job).where(
            Job.kind == INGEST,
            Job.user_id == user_id,
            Job.youtube_video_id.in_(video_ids),
            Job.status.in_(ACTIVE_OR_DONE),
        )
        return list(await self.scalars(statement))

    async def preparing(self, user_id: UUID, transcript_ids: Sequence[UUID] | None) -> bool:
        """Whether some of the user's videos are still being fetched or embedded (a job queued
        or running): of the whole library, or, given `transcript_ids`, of those transcripts
        (being embedded: they are stored)."""
        statement = select(Job.id).where(Job.user_id == user_id, Job.status.in_(PENDING))
        if transcript_ids is not None:
            statement = statement.where(Job.kind == EMBED, Job.transcript_id.in_(transcript_ids))
        return bool((await self.execute(select(statement.exists()))).scalar())

    async def enqueue_ingests(
        self,
        *,
        user_id: UUID,
        video_ids: Sequence[str],
        languages: Sequence[str],
        max_attempts: int,
    ) -> dict[str, tuple[Job, bool]]:
        """For each video (distinct ids), the user's queued, running or done job, else a new
        queued one: (job, created) by video id, in one INSERT for all of them.

        Idempotent under concurrency: the partial unique index decides, and ON CONFLICT DO
        NOTHING turns the loser of a race into a lookup.
        """
        found: dict[str, tuple[Job, bool]] = {}
        # Two rounds at most: a job that won a race can fail (or go) before we read it.
        for _ in range(2):
            missing = [video for video in video_ids if video not in found]
            if not missing:
                break
            rows = [
                {
                    "user_id": user_id,
                    "youtube_video_id": video,
                    "languages": list(languages),
                    "max_attempts": max_attempts,
                }
                for video in missing
            ]
            async with database_errors_translated():
                created = (await self.session.scalars(_INSERT_INGEST, rows)).all()
            found |= {job.youtube_video_id: (job, True) for job in created}
            taken = [video for video in missing if video not in found]
            if taken:
                existing = await self.active_or_done_ingests(user_id, taken)
                found |= {job.youtube_video_id: (job, False) for job in existing}
        if changed := [video for video in video_ids if video not in found]:
            raise ConflictError(
                f"the job for video {changed[0]} changed while it was being queued; ask again",
                table="jobs",
                constraint="uq_jobs_one_active_per_user_video",
                detail=None,
            )
        return found

    async def enqueue_embed(
        self, *, user_id: UUID, transcript_id: UUID, video_id: str, max_attempts: int
    ) -> Job:
        """A queued job that embeds the transcript's chunks (the video id is shown in listings)."""
        return await self._insert(
            kind=EMBED,
            user_id=user_id,
            transcript_id=transcript_id,
            youtube_video_id=video_id,
            languages=[],
            max_attempts=max_attempts,
        )

    async def claim_next(
        self, worker_id: str, stale_after: timedelta, kinds: Sequence[str] = (INGEST, EMBED)
    ) -> Job | None:
        """Take the next job of these kinds that is due, or one whose worker stopped sending
        heartbeats.

        FOR UPDATE SKIP LOCKED lets any number of workers claim concurrently without taking
        the same job twice. Claiming counts as an attempt. The previous attempt's error stays
        while this one runs: it says why the job is on another attempt.
        """
        now = func.clock_timestamp()
        due = select(Job.id).where(
            Job.kind.in_(kinds),
            or_(
                (Job.status == "queued") & (Job.run_after <= now),
                (Job.status == "running") & (Job.heartbeat_at < now - stale_after),
            ),
        )
        candidate = due.order_by(Job.run_after).limit(1).with_for_update(skip_locked=True)
        statement = (
            update(Job)
            .where(Job.id == candidate.scalar_subquery())
            .values(
                status="running",
                locked_by=worker_id,
                heartbeat_at=now,
                started_at=now,
                attempts=Job.attempts + 1,
            )
            .returning(Job)
            .execution_options(populate_existing=True)
        )
        async with database_errors_translated():
            return await self.session.scalar(statement)

    async def take_turns(self, job_id: UUID, worker_id: str) -> None:
        """Put a running job back in the queue, behind the jobs due now, its attempt not
        counted: a long job takes turns with the others instead of holding a worker."""
        await self.execute(
            update(Job)
            .where(Job.id == job_id, Job.locked_by == worker_id, Job.status == "running")
            .values(
                status="queued",
                run_after=func.clock_timestamp(),
                locked_by=None,
                heartbeat_at=None,
                attempts=Job.attempts - 1,
            )
            .execution_options(synchronize_session=False)
        )

    async def heartbeat(self, job_id: UUID, worker_id: str) -> bool:
        """Tell the others this worker is still on the job; False if it was taken away."""
        result = await self.execute(
            update(Job)
            .where(Job.id == job_id, Job.locked_by == worker_id, Job.status == "running")
            .values(heartbeat_at=func.clock_timestamp())
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)

    async def mark_done(self, job_id: UUID, transcript_id: UUID) -> None:
        await self._finish(
            job_id, status="done", transcript_id=transcript_id, error=None, error_code=None
        )

    async def mark_failed(self, job_id: UUID, code: str, reason: str) -> None:
        await self._finish(job_id, status="failed", error=reason, error_code=code)

    async def retry_later(self, job_id: UUID, code: str, reason: str, delay: timedelta) -> None:
        """Back to the queue, due after `delay`, keeping why this attempt failed."""
        await self.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status="queued",
                run_after=func.clock_timestamp() + delay,
                locked_by=None,
                heartbeat_at=None,
                error=reason,
                error_code=code,
            )
            .execution_options(synchronize_session=False)
        )

    async def _finish(self, job_id: UUID, **values: object) -> None:
        await self._set(job_id, locked_by=None, finished_at=func.clock_timestamp(), **values)
