"""Ingest by link: the job API, and the worker on replayed YouTube responses."""

import uuid
from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import get_settings
from app.db.models import Job
from app.db.repositories import ConfigRepository
from app.services.ingest_worker import IngestWorker
from app.services.youtube.fetcher import YouTubeFetcher
from testkit.youtube_replay import replay_session
from testkit.youtube_video_artefacts import ReplayVideo, Status
from tests.api.conftest import Account, assert_error, savepoint_unit_of_work

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


async def test_a_link_becomes_a_transcript_through_a_job(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    queued = await ingest(client, alice, f"https://m.youtube.com/watch?v={VIDEO_ID}&feature=share")
    assert queued.status_code == 202
    assert queued.json()["status"] == "queued"
    assert queued.json()["youtube_video_id"] == VIDEO_ID
    assert queued.json()["languages"] == ["en"]

    assert await worker_for(session, talk()).run_once() is True

    done = await job(client, alice, queued.json()["id"])
    assert done["status"] == "done"
    assert done["attempts"] == 1
    assert done["error"] is None
    transcript = (
        await client.get(f"/api/v1/transcripts/{done['transcript_id']}", headers=alice.headers)
    ).json()
    assert transcript["title"] == "Queues in Postgres"
    assert transcript["channel_name"] == "Backend Talks"
    assert transcript["duration"] == 360
    assert "databases & queues" in transcript["transcript_text"]
    assert transcript["metadata"]["language"] == "en"
    assert len(transcript["metadata"]["segments"]) == 120
    chunks = (
        await client.get(
            f"/api/v1/transcripts/{done['transcript_id']}/chunks", headers=alice.headers
        )
    ).json()
    assert chunks["total"] >= 1
    assert chunks["items"][0]["metadata"]["start_seconds"] == 0.0


async def test_asking_again_returns_the_same_job_while_queued_or_done(
    client: httpx.AsyncClient, alice: Account, bob: Account, session: AsyncSession
) -> None:
    first = await ingest(client, alice)
    again = await ingest(client, alice, f"https://youtu.be/{VIDEO_ID}")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]

    await worker_for(session, talk()).run_once()
    after_done = await ingest(client, alice)
    assert after_done.status_code == 200
    assert after_done.json()["status"] == "done"

    theirs = await ingest(client, bob)  # another user's job for the same video is their own
    assert theirs.status_code == 202
    assert theirs.json()["id"] != first.json()["id"]


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


async def test_preferred_languages_are_used(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    queued = await ingest(client, alice, languages=["de", "en"])
    await worker_for(session, talk(status="no_english")).run_once()  # only German captions

    done = await job(client, alice, queued.json()["id"])
    transcript = (
        await client.get(f"/api/v1/transcripts/{done['transcript_id']}", headers=alice.headers)
    ).json()
    assert done["languages"] == ["de", "en"]
    assert transcript["metadata"]["language"] == "de"


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


async def make_due(session: AsyncSession, job_id: str) -> None:
    await session.execute(
        update(Job)
        .where(Job.id == uuid.UUID(job_id))
        .values(run_after=func.now() - func.make_interval(0, 0, 0, 0, 0, 1))
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


async def test_jobs_are_private_and_listed_newest_first(
    client: httpx.AsyncClient, alice: Account, bob: Account, session: AsyncSession
) -> None:
    first = await ingest(client, alice, "Ingest00001")
    second = await ingest(client, alice, "Ingest00002")
    # Both were queued in this test's one transaction, so at the same now(): age the first.
    await session.execute(
        update(Job)
        .where(Job.id == uuid.UUID(first.json()["id"]))
        .values(created_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 1))
    )

    listed = (await client.get("/api/v1/jobs", headers=alice.headers)).json()
    assert [j["id"] for j in listed["items"]] == [second.json()["id"], first.json()["id"]]
    assert (await client.get("/api/v1/jobs", headers=bob.headers)).json()["total"] == 0
    assert_error(
        await client.get(f"/api/v1/jobs/{first.json()['id']}", headers=bob.headers),
        404,
        "not_found",
    )
    assert_error(
        await client.get(f"/api/v1/jobs/{uuid.uuid4()}", headers=alice.headers), 404, "not_found"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"video": "https://vimeo.com/1"},
        {"video": "nope"},
        {"video": VIDEO_ID, "languages": []},
        {"video": VIDEO_ID, "languages": ["english please"]},
    ],
)
async def test_bad_ingest_requests_are_422(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any]
) -> None:
    assert_error(
        await client.post(INGEST, json=body, headers=alice.headers), 422, "validation_error"
    )


async def test_the_video_already_uploaded_counts_as_done(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    await client.post(
        "/api/v1/transcripts",
        json={"video": VIDEO_ID, "transcript_text": "typed by hand"},
        headers=alice.headers,
    )
    queued = await ingest(client, alice)

    await worker_for(session, talk()).run_once()

    done = await job(client, alice, queued.json()["id"])
    kept = (
        await client.get(f"/api/v1/transcripts/{done['transcript_id']}", headers=alice.headers)
    ).json()
    assert done["status"] == "done"
    assert kept["transcript_text"] == "typed by hand"


async def test_the_worker_chunks_with_the_runtime_settings(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    await ConfigRepository(session).set_value("chunk_tokens", 50)
    queued = await ingest(client, alice)

    assert await worker_for(session, talk()).run_once() is True

    done = await job(client, alice, queued.json()["id"])
    chunks = await client.get(
        f"/api/v1/transcripts/{done['transcript_id']}/chunks",
        params={"limit": 100},
        headers=alice.headers,
    )
    token_counts = [chunk["token_count"] for chunk in chunks.json()["items"]]
    assert len(token_counts) > 10
    assert max(token_counts) <= 50
