"""Concurrent workers on real, separately committed connections: FOR UPDATE SKIP LOCKED."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Job
from app.db.repositories import JobRepository, UserRepository
from app.db.session import Database
from tests.factories import make_user
from tests.statements import engine_of, statements_sent

JOBS = 12


@pytest.fixture
async def owner(database: Database) -> AsyncIterator[uuid.UUID]:
    async with database.unit_of_work() as session:
        user = await make_user(session, f"claims-{uuid.uuid4().hex[:8]}@example.com")
        user_id = user.id
    yield user_id
    async with database.unit_of_work() as session:
        await UserRepository(session).delete(user_id)


async def claim_until_empty(
    database: Database, worker: str, held: asyncio.Event
) -> list[uuid.UUID]:
    claimed: list[uuid.UUID] = []
    while True:
        async with database.unit_of_work() as session:
            job = await JobRepository(session).claim_next(worker, timedelta(minutes=5))
            if job is None:
                return claimed
            claimed.append(job.id)
            # Hold the row lock for a moment so the other workers really run alongside.
            held.set()
            await asyncio.sleep(0.01)


async def test_concurrent_workers_never_claim_the_same_job(
    database: Database, owner: uuid.UUID
) -> None:
    async with database.unit_of_work() as session:
        jobs = JobRepository(session)
        for index in range(JOBS):
            await jobs.enqueue_ingest(
                user_id=owner, video_id=f"claim{index:06d}", languages=["en"], max_attempts=3
            )

    held = asyncio.Event()
    results = await asyncio.gather(
        *(claim_until_empty(database, f"worker-{n}", held) for n in range(4))
    )

    claimed = [job_id for result in results for job_id in result]
    assert len(claimed) == JOBS
    assert len(set(claimed)) == JOBS
    assert sum(1 for result in results if result) >= 2  # the work was actually shared


async def test_enqueue_is_idempotent_under_concurrency(
    database: Database, owner: uuid.UUID
) -> None:
    async def enqueue() -> tuple[uuid.UUID, bool]:
        async with database.unit_of_work() as session:
            job, created = await JobRepository(session).enqueue_ingest(
                user_id=owner, video_id="sameVideo01", languages=["en"], max_attempts=3
            )
            return job.id, created

    outcomes = await asyncio.gather(*(enqueue() for _ in range(6)))

    assert len({job_id for job_id, _ in outcomes}) == 1
    assert sum(created for _, created in outcomes) == 1


async def test_a_collections_videos_are_queued_in_one_insert(session: AsyncSession) -> None:
    """Each video gets its live or finished job, or a new one; a failed job's video a new one,
    and all the new ones are written by one statement however many videos there are."""
    user = await make_user(session)
    jobs = JobRepository(session)

    async def enqueue(video: str) -> tuple[Job, bool]:
        return await jobs.enqueue_ingest(
            user_id=user.id, video_id=video, languages=["en"], max_attempts=3
        )

    queued, _ = await enqueue("queuedVid01")
    failed, _ = await enqueue("failedVid01")
    await session.execute(update(Job).where(Job.id == failed.id).values(status="failed"))
    videos = ["queuedVid01", "failedVid01", *(f"newVideo{n:03d}" for n in range(40))]

    with statements_sent(engine_of(session)) as sent:
        found = await jobs.enqueue_ingests(
            user_id=user.id, video_ids=videos, languages=["en"], max_attempts=3
        )

    assert set(found) == set(videos)
    assert found["queuedVid01"] == (queued, False)
    job, created = found["failedVid01"]
    assert created
    assert (job.id != failed.id, job.status) == (True, "queued")
    assert all(found[f"newVideo{n:03d}"][1] for n in range(40))
    assert len({job.id for job, _ in found.values()}) == len(videos)
    assert sum(statement.lstrip().startswith("INSERT") for statement in sent) == 1
