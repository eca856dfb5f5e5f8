"""Ingest by link, for tests: a talk as YouTube's replayed responses give it, workers on the
test's session fetching from them, and the calls of the job API."""

import uuid
from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import get_settings
from app.db.models import Job
from app.services.ingest_worker import IngestWorker
from app.services.youtube.fetcher import YouTubeFetcher
from testkit.youtube_replay import replay_session
from testkit.youtube_video_artefacts import ReplayVideo, Status
from tests.api.conftest import Account, savepoint_unit_of_work

INGEST = "/api/v1/transcripts/ingest"
VIDEO_ID = "Ingest00001"


def talk(video_id: str = VIDEO_ID, status: Status = "ok", **changes: Any) -> ReplayVideo:
    captions = [
        (i * 3.0, 3.0, f"Sentence number {i} is about databases & queues.") for i in range(120)
    ]
    return ReplayVideo(
        video_id=video_id,
        title="Queues in Postgres",
        channel_name="Backend Talks",
        captions=captions,
        status=status,
        **changes,
    )


def worker_for(session: AsyncSession, *videos: ReplayVideo, **settings: Any) -> IngestWorker:
    """A worker on the test's session, fetching from the replayed responses only."""

    def fetcher() -> YouTubeFetcher:
        return YouTubeFetcher(http=replay_session(*videos)[0])

    return worker_with(session, fetcher, **settings)


def worker_through(session: AsyncSession, *attempts: ReplayVideo, **settings: Any) -> IngestWorker:
    """A worker whose first attempt meets YouTube as `attempts[0]` says, its second as
    `attempts[1]`, and so on."""
    answers: Iterator[ReplayVideo] = iter(attempts)

    def fetcher() -> YouTubeFetcher:
        return YouTubeFetcher(http=replay_session(next(answers))[0])

    return worker_with(session, fetcher, **settings)


def worker_with(session: AsyncSession, fetcher: Any, **settings: Any) -> IngestWorker:
    configured = get_settings().model_copy(update={"job_retry_base_seconds": 60, **settings})
    unit_of_work = asynccontextmanager(savepoint_unit_of_work(session))
    return IngestWorker(unit_of_work, fetcher, configured)


async def ingest(
    client: httpx.AsyncClient, account: Account, video: str = VIDEO_ID, **body: Any
) -> httpx.Response:
    return await client.post(INGEST, json={"video": video, **body}, headers=account.headers)


async def job(client: httpx.AsyncClient, account: Account, job_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/jobs/{job_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_due(session: AsyncSession, job_id: str) -> None:
    await session.execute(
        update(Job)
        .where(Job.id == uuid.UUID(job_id))
        .values(run_after=func.now() - func.make_interval(0, 0, 0, 0, 0, 1))
    )
