"""Concurrent workers on real, separately committed connections: FOR UPDATE SKIP LOCKED."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from app.db.repositories import JobRepository, UserRepository
from app.db.session import Database
from tests.factories import make_user

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
