"""Ingest by link through the job API: a link becomes a transcript through a job, asking again
returns the same job, the languages asked for are used, jobs are private, bad requests are
refused, and the worker stores what it fetched with the runtime settings."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Job
from app.db.repositories import ConfigRepository
from tests.api.conftest import Account, assert_error
from tests.api.ingesting import INGEST, VIDEO_ID, ingest, job, talk, worker_for


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


async def test_a_video_already_uploaded_is_not_fetched_again(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Its captions are in the library: a job would fetch them from YouTube for nothing (and,
    offline, fail). Asked as an upload of it again would be: 409, naming the transcript."""
    uploaded = await client.post(
        "/api/v1/transcripts",
        json={"video": VIDEO_ID, "transcript_text": "Words already in the library."},
        headers=alice.headers,
    )
    assert uploaded.status_code == 201, uploaded.text

    asked = await ingest(client, alice, f"https://youtu.be/{VIDEO_ID}")

    error = assert_error(asked, 409, "conflict")
    assert uploaded.json()["id"] in error["message"]
    assert error["details"][0]["field"] == "body.video"
    jobs = (await client.get("/api/v1/jobs", headers=alice.headers)).json()["items"]
    assert [job["kind"] for job in jobs if job["kind"] != "embed"] == []


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


async def test_a_video_uploaded_while_its_job_waits_counts_as_done(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    queued = await ingest(client, alice)
    uploaded = await client.post(
        "/api/v1/transcripts",
        json={"video": VIDEO_ID, "transcript_text": "typed by hand"},
        headers=alice.headers,
    )
    assert uploaded.status_code == 201, uploaded.text

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
