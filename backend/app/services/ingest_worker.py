"""The worker that runs queued jobs: ingest (a video's captions → a transcript and its chunks)
and embed (the transcript's chunks → their vectors, queued when a transcript is stored).

Each job is claimed in its own short transaction (FOR UPDATE SKIP LOCKED), and its slow part
(fetching, embedding) runs outside any transaction while a heartbeat tells other workers it is
alive. A transcript is stored together with its "done" mark in one transaction; vectors are
stored batch by batch, so a retried embed job only embeds what is still missing. A failure that
retrying cannot fix fails the job at once, with a code, the reason and the way out; a transient
one puts it back in the queue, after an exponential backoff with jitter (or the Retry-After
YouTube sent), until max_attempts (job_retries.py). The waiting job shows its code, reason and
when it runs next. When the worker itself fails (the database is down), it waits twice as long
after each failure in a row, up to a minute, and logs a traceback only for the first.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings
from app.db.errors import ConflictError
from app.db.models import Job
from app.db.repositories import JobRepository, TranscriptRepository
from app.db.repositories.job import EMBED, INGEST
from app.db.session import Database, UnitOfWork
from app.services import collections
from app.services.background_loops import run_rounds
from app.services.chapters import storing as chapters
from app.services.embeddings.base import EmbeddingError
from app.services.job_retries import JobFailure, backoff, why_not_retried
from app.services.llm import LanguageModel, with_settings
from app.services.passage_embeddings import Embedder
from app.services.runtime_settings import RuntimeSettings
from app.services.transcripts import NewTranscript, store_transcript
from app.services.usage_limits import QuotaExceededError
from app.services.webhooks.events import (
    JOB_FAILED,
    JOB_SUCCEEDED,
    TRANSCRIPT_READY,
    job_data,
    record_event,
    transcript_ready_data,
)
from app.services.youtube.failures import FetchError
from app.services.youtube.fetcher import FetchedVideo, TranscriptFetcher

logger = logging.getLogger(__name__)

T = TypeVar("T")

_wake_up = asyncio.Event()


def wake_workers() -> None:
    """A job was queued: workers in this process look now instead of at their next poll."""
    _wake_up.set()


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """The claimed job's values, copied: the ORM object belongs to the claim's session."""

    id: uuid.UUID
    kind: str
    user_id: uuid.UUID
    video_id: str
    languages: list[str]
    attempts: int
    max_attempts: int
    transcript_id: uuid.UUID | None

    @classmethod
    def of(cls, job: Job) -> "ClaimedJob":
        return cls(
            job.id,
            job.kind,
            job.user_id,
            job.youtube_video_id,
            list(job.languages),
            job.attempts,
            job.max_attempts,
            job.transcript_id,
        )


class IngestWorker:
    """Runs ingest jobs, and embed jobs when given an embedder (else it leaves them queued)."""

    def __init__(
        self,
        unit_of_work: UnitOfWork,
        fetcher_factory: Callable[[], TranscriptFetcher],
        settings: Settings,
        embedder: Embedder | None = None,
        language_model: LanguageModel | None = None,
    ) -> None:
        self.unit_of_work = unit_of_work
        self.fetcher_factory = fetcher_factory
        self.settings = settings
        # Names the chapters of embedded transcripts, when it is not the offline one.
        self.language_model = language_model
        # Chunk size and overlap for new transcripts may change at run time.
        self.runtime_settings = RuntimeSettings(settings)
        self.embedder = embedder
        self.kinds = (INGEST, EMBED) if embedder is not None else (INGEST,)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def run_forever(self) -> None:
        """Process jobs until cancelled; errors are logged and the loop goes on, backing off."""
        await run_rounds(
            self.run_once,
            name=f"ingest worker {self.worker_id}",
            poll_seconds=self.settings.job_poll_seconds,
            log=logger,
            wake_up=_wake_up,
        )

    async def run_once(self) -> bool:
        """Claim and process one job; False when there was none to do."""
        stale_after = timedelta(seconds=self.settings.job_stale_seconds)
        async with self.unit_of_work() as session:
            claimed = await JobRepository(session).claim_next(
                self.worker_id, stale_after, self.kinds
            )
            job = ClaimedJob.of(claimed) if claimed is not None else None
        if job is None:
            return False
        logger.info("job %s: %s %s (attempt %d)", job.id, job.kind, job.video_id, job.attempts)
        try:
            if job.attempts > job.max_attempts:
                await self._finish_failed(
                    job,
                    "interrupted",
                    f"gave up after {job.max_attempts} attempts: the worker running it stopped",
                )
            elif job.kind == EMBED:
                await self._embed(job)
            else:
                await self._ingest(job)
        except asyncio.CancelledError:
            # Stopped mid-job (the server shutting down): back in the queue at once, shielded,
            # rather than left running until JOB_STALE_SECONDS as a crashed worker's job is.
            # A stop cancels again a loop that has not ended (background_loops.stop_loops):
            # the hand-back is waited for through each cancellation.
            handing_back = asyncio.ensure_future(self._hand_back(job))
            while not handing_back.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(handing_back)
            raise
        return True

    async def _hand_back(self, job: ClaimedJob) -> None:
        """The job queued again, this attempt not counted: the worker stopped, the job did not
        fail. Its work so far stays (an embed job's stored batches, for one)."""
        try:
            async with self.unit_of_work() as session:
                await JobRepository(session).take_turns(job.id, self.worker_id)
        except Exception as error:  # the database gone too: it is taken over when stale
            logger.warning("job %s: could not be handed back (%s)", job.id, error)
        else:
            logger.info("job %s: handed back to the queue, the worker stopping", job.id)

    async def _ingest(self, job: ClaimedJob) -> None:
        fetcher = self.fetcher_factory()
        try:
            video = await self._with_heartbeat(
                job, asyncio.to_thread(fetcher.fetch, job.video_id, job.languages)
            )
        except FetchError as error:
            await self._handle_failure(job, JobFailure.of_fetch(error))
            return
        await self._store(job, video)

    async def _embed(self, job: ClaimedJob) -> None:
        assert self.embedder is not None
        assert job.transcript_id is not None
        deadline = time.monotonic() + self.settings.job_embed_slice_seconds
        try:
            embedded, finished = await self._with_heartbeat(
                job,
                self.embedder.embed_until(
                    self.unit_of_work, transcript_id=job.transcript_id, deadline=deadline
                ),
            )
        except EmbeddingError as error:
            await self._handle_failure(job, JobFailure("embedding_failed", str(error), True))
            return
        if not finished:  # its turn is over: the jobs waiting meanwhile go first
            async with self.unit_of_work() as session:
                await JobRepository(session).take_turns(job.id, self.worker_id)
            logger.info("job %s: embedded %d passages, the rest later", job.id, embedded)
            return
        await self._with_heartbeat(job, self._find_chapters(job.transcript_id))
        async with self.unit_of_work() as session:
            await self._mark_done(session, job, job.transcript_id)
            await record_event(
                session,
                job.user_id,
                TRANSCRIPT_READY,
                transcript_ready_data(job.transcript_id, job.video_id),
            )
        logger.info("job %s: embedded %d chunks", job.id, embedded)

    async def _find_chapters(self, transcript_id: uuid.UUID) -> None:
        """Chapters, now that the vectors are in. A failure here leaves the transcript without
        chapters (they are found on first read then), not its job failed."""
        assert self.embedder is not None
        try:
            model_name = (await self.embedder.provider()).model_name
            await chapters.find_name_and_store(
                self.unit_of_work, transcript_id, model_name, self._chapter_namer
            )
        except Exception:
            logger.exception("transcript %s: its chapters could not be found", transcript_id)

    async def _chapter_namer(self, session: AsyncSession) -> chapters.Namer | None:
        if self.language_model is None:
            return None
        settings = await self.runtime_settings.effective(session)
        return chapters.Namer(with_settings(self.language_model, settings), settings)

    async def _with_heartbeat(self, job: ClaimedJob, work: Awaitable[T]) -> T:
        heart = asyncio.create_task(self._beat(job))
        try:
            return await work
        finally:
            heart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heart

    async def _beat(self, job: ClaimedJob) -> None:
        while True:
            await asyncio.sleep(self.settings.job_heartbeat_seconds)
            async with self.unit_of_work() as session:
                await JobRepository(session).heartbeat(job.id, self.worker_id)

    async def _handle_failure(self, job: ClaimedJob, failure: JobFailure) -> None:
        final = why_not_retried(failure, job.attempts, job.max_attempts, self.settings)
        if final is not None:
            await self._finish_failed(job, failure.code, failure.message(final))
            return
        delay = max(
            backoff(job.attempts, self.settings), timedelta(seconds=failure.retry_after or 0)
        )
        logger.warning("job %s: %s; retrying in %s", job.id, failure.reason, delay)
        async with self.unit_of_work() as session:
            await JobRepository(session).retry_later(job.id, failure.code, failure.reason, delay)

    async def _finish_failed(self, job: ClaimedJob, code: str, message: str) -> None:
        logger.warning("job %s failed (%s): %s", job.id, code, message)
        async with self.unit_of_work() as session:
            await JobRepository(session).mark_failed(job.id, code, message)
            data = job_data(job.id, job.kind, job.video_id, job.attempts, status="failed")
            data |= {"error_code": code, "error": message}
            await record_event(session, job.user_id, JOB_FAILED, data)
            await collections.job_settled(session, job.id, self.settings)

    async def _mark_done(
        self, session: AsyncSession, job: ClaimedJob, transcript_id: uuid.UUID
    ) -> None:
        """The job is done, and its owner's webhooks will say so, in the caller's transaction."""
        await JobRepository(session).mark_done(job.id, transcript_id)
        data = job_data(job.id, job.kind, job.video_id, job.attempts, status="done")
        data["transcript_id"] = str(transcript_id)
        await record_event(session, job.user_id, JOB_SUCCEEDED, data)
        await collections.job_settled(session, job.id, self.settings)

    async def _store(self, job: ClaimedJob, video: FetchedVideo) -> None:
        new = NewTranscript(
            video_id=video.video_id,
            segments=video.segments,
            title=video.title,
            channel_name=video.channel_name,
            duration=video.duration,
            metadata=video_metadata(video),
        )
        try:
            async with self.unit_of_work() as session:
                settings = await self.runtime_settings.effective(session)
                transcript, chunks = await store_transcript(session, job.user_id, new, settings)
                await self._mark_done(session, job, transcript.id)
        except ConflictError:
            # The user uploaded this video another way meanwhile: the job's work is done.
            async with self.unit_of_work() as session:
                existing = await TranscriptRepository(session).get_by_video_id(
                    job.user_id, video.video_id
                )
                assert existing is not None
                await self._mark_done(session, job, existing.id)
            return
        except QuotaExceededError as error:
            await self._handle_failure(job, JobFailure("quota_exceeded", str(error), False))
            return
        logger.info("job %s: stored %d chunks", job.id, chunks)


def video_metadata(video: FetchedVideo) -> dict[str, object]:
    metadata: dict[str, object] = {
        "language": video.language_code,
        "auto_generated": video.is_generated,
    }
    if video.description:
        metadata["description"] = video.description[:5000]
    return metadata


def start_workers(
    database: Database,
    fetcher_factory: Callable[[], TranscriptFetcher],
    settings: Settings,
    count: int,
    embedder: Embedder | None,
    language_model: LanguageModel | None = None,
) -> tuple[IngestWorker, list[asyncio.Task[None]]]:
    """`count` workers sharing one IngestWorker on the database; with an embedder, also the
    background task that creates the configured model's vector index."""
    worker = IngestWorker(
        database.unit_of_work, fetcher_factory, settings, embedder, language_model
    )
    tasks = [
        asyncio.create_task(worker.run_forever(), name=f"ingest worker {number}")
        for number in range(1, count + 1)
    ]
    if embedder is not None and count:
        index = prepare_index_in_background(embedder, database.engine)
        tasks.append(asyncio.create_task(index, name="vector index build"))
    return worker, tasks


async def prepare_index_in_background(embedder: Embedder, engine: AsyncEngine) -> None:
    """Searches work without the index (scanning), so a failure is reported, not raised."""
    if embedder.settings.db_pgbouncer:
        # The build holds a session (an advisory lock, SET, CREATE INDEX CONCURRENTLY), which
        # transaction pooling does not give: it needs a direct connection.
        logger.warning(
            "the vector index is not built through PgBouncer: run `make embed` with "
            "DATABASE_URL naming the server itself and DB_PGBOUNCER unset"
        )
        return
    try:
        await embedder.prepare_index(engine)
    except EmbeddingError as error:
        logger.warning("the vector index is not ready (%s): next start, or `make embed`", error)
    except Exception:
        logger.exception("the vector index is not ready: next start, or `make embed`")
