"""The ingest worker on YouTube's failures, replayed: what retrying cannot fix fails the job at
once with the way out; a transient failure is retried after a backoff (or YouTube's Retry-After)
the job shows, until its attempts are spent; a job whose worker died is retried, or failed as
interrupted."""

import uuid
from datetime import datetime

import httpx
import pytest
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Job
from testkit.youtube_video_artefacts import Status
from tests.api.conftest import Account
from tests.api.ingesting import ingest, job, make_due, talk, worker_for, worker_through

UPLOAD = "POST /api/v1/transcripts/upload"


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        ("network_down", "network_unreachable", "Could not reach YouTube from this server"),
        ("private", "video_unavailable", "cannot be played"),
        ("unavailable", "video_unavailable", "unavailable"),
        ("transcripts_disabled", "no_captions", "The video has no captions. Upload"),
        ("no_english", "no_captions", "no captions in en; it has captions in de"),
        ("bot_detected", "blocked", "confirm it is not a bot"),
    ],
)
async def test_failures_retrying_cannot_fix_fail_the_job_at_once_with_the_way_out(
    client: httpx.AsyncClient,
    alice: Account,
    session: AsyncSession,
    status: Status,
    code: str,
    reason: str,
) -> None:
    queued = await ingest(client, alice)

    await worker_for(session, talk(status=status)).run_once()

    failed = await job(client, alice, queued.json()["id"])
    assert failed["status"] == "failed"
    assert failed["attempts"] == 1
    assert failed["error_code"] == code
    assert reason in failed["error"]
    assert UPLOAD in failed["error"]
    assert failed["finished_at"] is not None
    assert failed["transcript_id"] is None
    assert failed["next_attempt_at"] is None
    assert failed["retry_in_seconds"] is None
    retry = await ingest(client, alice)  # a failed job does not block a new attempt
    assert retry.status_code == 202
    assert retry.json()["id"] != queued.json()["id"]


async def test_an_unreachable_network_fails_the_job_in_one_attempt(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    """The README's first hour: no network, and the job said nothing for 7.5 minutes."""
    queued = await ingest(client, alice)
    worker = worker_for(session, talk(status="network_down", network_failure="dns"))

    await worker.run_once()

    failed = await job(client, alice, queued.json()["id"])
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["error_code"] == "network_unreachable"
    assert failed["error"] == (
        "Could not reach YouTube from this server (DNS lookup of www.youtube.com failed). "
        "Upload the video's captions instead: POST /api/v1/transcripts/upload "
        "(an SRT or WebVTT file)."
    )
    assert await worker.run_once() is False  # nothing left to retry


async def test_a_rate_limit_is_waited_out_visibly_then_the_job_succeeds(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    queued = await ingest(client, alice)
    job_id = queued.json()["id"]
    worker = worker_through(
        session,
        talk(status="rate_limited", retry_after="120"),
        talk(),
        job_retry_base_seconds=0.01,  # Retry-After, not the backoff, sets this wait
    )

    await worker.run_once()
    waiting = await job(client, alice, job_id)
    assert (waiting["status"], waiting["attempts"]) == ("queued", 1)
    assert waiting["error_code"] == "rate_limited"
    assert waiting["error"] == "YouTube is limiting this server's requests (HTTP 429)"
    assert waiting["next_attempt_at"] == waiting["run_after"]
    assert 60 < waiting["retry_in_seconds"] <= 120  # YouTube's 120 s, already counting down
    assert await worker.run_once() is False  # not due yet

    await make_due(session, job_id)
    await worker.run_once()
    done = await job(client, alice, job_id)
    assert (done["status"], done["attempts"]) == ("done", 2)
    assert done["error"] is None
    assert done["error_code"] is None
    assert done["next_attempt_at"] is None
    assert done["transcript_id"] is not None


async def test_the_backoff_without_retry_after_is_short_and_shown(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    queued = await ingest(client, alice)
    worker = worker_for(
        session,
        talk(status="network_down", network_failure="read_timeout"),
        job_retry_base_seconds=30,
    )

    await worker.run_once()

    waiting = await job(client, alice, queued.json()["id"])
    assert waiting["error_code"] == "timeout"
    assert waiting["error"] == "www.youtube.com did not answer in time"
    assert 0 < waiting["retry_in_seconds"] <= 30  # half fixed, half random: 15 to 30 s
    scheduled = datetime.fromisoformat(waiting["next_attempt_at"])
    assert scheduled > datetime.fromisoformat(waiting["updated_at"])


async def test_server_errors_beyond_the_retry_budget_fail_with_a_clear_message(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    queued = await ingest(client, alice)
    job_id = queued.json()["id"]
    await session.execute(update(Job).where(Job.id == uuid.UUID(job_id)).values(max_attempts=2))
    worker = worker_for(session, talk(status="server_error", server_status=503))

    await worker.run_once()
    waiting = await job(client, alice, job_id)
    assert (waiting["status"], waiting["error_code"]) == ("queued", "upstream_error")
    await make_due(session, job_id)
    await worker.run_once()

    gave_up = await job(client, alice, job_id)
    assert (gave_up["status"], gave_up["attempts"]) == ("failed", 2)
    assert gave_up["error_code"] == "upstream_error"
    assert gave_up["error"] == (
        "YouTube's server answered HTTP 503 (gave up after 2 attempts). "
        "Ask again later, or upload the video's captions: POST /api/v1/transcripts/upload."
    )
    assert gave_up["next_attempt_at"] is None


async def test_a_retry_after_longer_than_the_longest_wait_fails_at_once(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    queued = await ingest(client, alice)
    worker = worker_for(
        session, talk(status="rate_limited", retry_after="7200"), job_retry_max_seconds=600
    )

    await worker.run_once()

    failed = await job(client, alice, queued.json()["id"])
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["error_code"] == "rate_limited"
    assert failed["error"].startswith(
        "YouTube is limiting this server's requests (HTTP 429), and asked to wait 7200 s. "
        "Ask again later"
    )


async def test_a_job_left_running_by_a_dead_worker_is_retried(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    from datetime import timedelta

    from app.db.repositories import JobRepository

    queued = await ingest(client, alice)
    dead = await JobRepository(session).claim_next("dead-worker", timedelta(seconds=120))
    assert dead is not None
    assert dead.status == "running"
    worker = worker_for(session, talk(), job_stale_seconds=120)
    assert await worker.run_once() is False  # its heartbeat is still fresh

    await session.execute(
        update(Job)
        .where(Job.id == dead.id)
        .values(heartbeat_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 10))
    )
    assert await worker.run_once() is True

    done = await job(client, alice, queued.json()["id"])
    assert done["status"] == "done"
    assert done["attempts"] == 2


async def test_a_job_whose_workers_keep_dying_fails_as_interrupted(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    queued = await ingest(client, alice)
    await session.execute(
        update(Job)
        .where(Job.id == uuid.UUID(queued.json()["id"]))
        .values(
            status="running",
            attempts=Job.max_attempts,
            heartbeat_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 10),
        )
    )

    assert await worker_for(session, talk(), job_stale_seconds=1).run_once() is True

    failed = await job(client, alice, queued.json()["id"])
    assert failed["status"] == "failed"
    assert failed["error_code"] == "interrupted"
    assert failed["error"] == "gave up after 5 attempts: the worker running it stopped"
