"""Embedding off the request path: storing a transcript queues an embed job, and a worker stores
one vector per passage (with a deterministic stand-in provider)."""

import asyncio
import math
import uuid
from collections.abc import Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import get_settings
from app.services.embeddings.base import EmbeddingError
from app.services.ingest_worker import IngestWorker
from app.services.passage_embeddings import Embedder
from app.services.youtube.fetcher import YouTubeFetcher
from testkit.youtube_replay import replay_session
from tests.api.conftest import Account, ClientFactory, savepoint_unit_of_work
from tests.api.ingesting import make_due, talk
from tests.fakes import HashingEmbedder

TALK = " ".join(
    f"Sentence {i} explains how vacuum keeps PostgreSQL tables small." for i in range(60)
)


def embedder_for(provider: HashingEmbedder, **settings: Any) -> Embedder:
    configured = get_settings().model_copy(update={"embedding_batch_size": 4, **settings})
    return Embedder(configured, factory=lambda _: provider)


def worker_for(
    session: AsyncSession, provider: HashingEmbedder | None, **settings: Any
) -> IngestWorker:
    """A worker on the test's session, fetching from replayed responses only."""
    configured = get_settings().model_copy(update={"job_retry_base_seconds": 60, **settings})
    embedder = embedder_for(provider) if provider is not None else None
    return IngestWorker(
        asynccontextmanager(savepoint_unit_of_work(session)),
        lambda: YouTubeFetcher(http=replay_session(talk())[0]),
        configured,
        embedder,
    )


async def upload(client: httpx.AsyncClient, account: Account, video: str = "EmbedVid001") -> str:
    response = await client.post(
        "/api/v1/transcripts",
        json={"video": video, "title": "Vacuum", "transcript_text": TALK},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    transcript_id: str = response.json()["id"]
    return transcript_id


async def jobs_of(client: httpx.AsyncClient, account: Account) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/jobs", headers=account.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def vectors_of(session: AsyncSession, transcript_id: str, model: str) -> list[list[float]]:
    """The transcript's passages' vectors of `model`, in chunk and passage order."""
    rows = await session.scalars(
        text(
            "SELECT e.embedding::real[] FROM passage_embeddings e "
            "JOIN passages p ON p.id = e.passage_id JOIN chunks c ON c.id = p.chunk_id "
            "WHERE p.transcript_id = :transcript AND e.model = :model "
            "ORDER BY c.chunk_index, p.passage_index"
        ),
        {"transcript": uuid.UUID(transcript_id), "model": model},
    )
    return list(rows)


async def passage_texts(session: AsyncSession, transcript_id: str) -> list[str]:
    """The transcript's passages, in chunk and passage order."""
    rows = await session.scalars(
        text(
            "SELECT p.passage_text FROM passages p JOIN chunks c ON c.id = p.chunk_id "
            "WHERE p.transcript_id = :transcript ORDER BY c.chunk_index, p.passage_index"
        ),
        {"transcript": uuid.UUID(transcript_id)},
    )
    return list(rows)


async def passage_count(session: AsyncSession, transcript_id: str) -> int:
    return len(await passage_texts(session, transcript_id))


async def test_a_stored_transcript_gets_an_embed_job(
    make_client: ClientFactory, alice: Account
) -> None:
    async with make_client(chunk_tokens=40) as client:
        transcript_id = await upload(client, alice)
        (job,) = await jobs_of(client, alice)

    assert job["kind"] == "embed"
    assert job["status"] == "queued"
    assert job["transcript_id"] == transcript_id
    assert job["youtube_video_id"] == "EmbedVid001"
    assert job["languages"] == []


async def test_an_uploaded_caption_file_gets_an_embed_job_too(
    client: httpx.AsyncClient, alice: Account
) -> None:
    captions = "1\n00:00:00,000 --> 00:00:02,000\nVacuum keeps tables small.\n"
    response = await client.post(
        "/api/v1/transcripts/upload",
        files={"file": ("talk.srt", captions.encode())},
        data={"video": "EmbedVid002"},
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    assert [job["kind"] for job in await jobs_of(client, alice)] == ["embed"]


async def test_with_embeddings_disabled_no_job_is_queued(
    make_client: ClientFactory, alice: Account
) -> None:
    async with make_client(embeddings_enabled=False) as client:
        await upload(client, alice)
        assert await jobs_of(client, alice) == []


async def test_the_worker_stores_one_vector_per_passage_in_batches(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    provider = HashingEmbedder()
    async with make_client(chunk_tokens=40) as client:
        transcript_id = await upload(client, alice)
        other_id = await upload(client, alice, "EmbedVid003")
        passages = await passage_count(session, transcript_id)
        (job_id,) = [
            j["id"] for j in await jobs_of(client, alice) if j["transcript_id"] == transcript_id
        ]
        await session.execute(  # the other transcript's job is not due: this one runs
            text("UPDATE jobs SET run_after = now() + interval '1 hour' WHERE transcript_id = :t"),
            {"t": uuid.UUID(other_id)},
        )

        assert await worker_for(session, provider).run_once() is True

        job = (await client.get(f"/api/v1/jobs/{job_id}", headers=alice.headers)).json()
    assert job["status"] == "done"
    assert job["finished_at"] is not None
    vectors = await vectors_of(session, transcript_id, provider.model_name)
    assert passages > 4
    assert len(vectors) == passages
    assert all(len(vector) == provider.dimension for vector in vectors)
    assert all(
        math.isclose(math.fsum(v * v for v in vector), 1.0, rel_tol=1e-5) for vector in vectors
    )
    assert [len(call) for call in provider.passage_calls] == [4] * (passages // 4) + (
        [passages % 4] if passages % 4 else []
    )
    # What was embedded is the passages' own texts, each once.
    embedded = [text for call in provider.passage_calls for text in call]
    assert sorted(embedded) == sorted(await passage_texts(session, transcript_id))
    assert vectors == [
        pytest.approx(provider.vector(text), rel=1e-6)
        for text in await passage_texts(session, transcript_id)
    ]
    assert await vectors_of(session, other_id, provider.model_name) == []  # its own job


async def test_a_failing_provider_is_retried_with_backoff_and_resumes(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    provider = HashingEmbedder()
    provider.failures = [None, EmbeddingError("the embedding server is unreachable")]
    async with make_client(chunk_tokens=40) as client:
        transcript_id = await upload(client, alice)
        passages = await passage_count(session, transcript_id)
        worker = worker_for(session, provider)

        await worker.run_once()
        (waiting,) = await jobs_of(client, alice)
        assert waiting["status"] == "queued"
        assert waiting["attempts"] == 1
        assert "unreachable" in waiting["error"]
        assert waiting["run_after"] > waiting["updated_at"][:19]  # backed off into the future
        assert len(await vectors_of(session, transcript_id, provider.model_name)) == 4  # kept
        assert await worker.run_once() is False  # not due yet

        await make_due(session, waiting["id"])
        await worker.run_once()
        (done,) = await jobs_of(client, alice)

    assert done["status"] == "done"
    assert done["attempts"] == 2
    assert len(await vectors_of(session, transcript_id, provider.model_name)) == passages
    embedded = [text for call in provider.passage_calls for text in call]
    assert len(embedded) == passages + 4  # the failed batch again, nothing stored twice


async def test_a_provider_failing_every_time_fails_the_job(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    provider = HashingEmbedder()
    provider.failures = [EmbeddingError("the embedding server answered HTTP 503")] * 2
    async with make_client(job_max_attempts=2) as client:
        await upload(client, alice)
        worker = worker_for(session, provider)
        await worker.run_once()
        await make_due(session, (await jobs_of(client, alice))[0]["id"])
        await worker.run_once()
        (failed,) = await jobs_of(client, alice)

    assert failed["status"] == "failed"
    assert failed["error"] == "the embedding server answered HTTP 503 (gave up after 2 attempts)"
    assert failed["error_code"] == "embedding_failed"


async def test_a_worker_without_an_embedder_leaves_embed_jobs_queued(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    await upload(client, alice)

    assert await worker_for(session, None).run_once() is False

    assert [job["status"] for job in await jobs_of(client, alice)] == ["queued"]


async def test_a_changed_model_embeds_beside_the_old_vectors(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    old, new = HashingEmbedder("old-model", 32), HashingEmbedder("new-model", 48)
    async with make_client(chunk_tokens=40) as client:
        transcript_id = await upload(client, alice)
    passages = await passage_count(session, transcript_id)
    unit_of_work = asynccontextmanager(savepoint_unit_of_work(session))
    await embedder_for(old).embed_missing(unit_of_work, transcript_id=uuid.UUID(transcript_id))
    old_vectors = await vectors_of(session, transcript_id, "old-model")

    new_embedder = embedder_for(new)
    assert await new_embedder.count_missing(unit_of_work) >= passages
    await new_embedder.embed_missing(unit_of_work, transcript_id=uuid.UUID(transcript_id))

    assert await vectors_of(session, transcript_id, "old-model") == old_vectors
    new_vectors = await vectors_of(session, transcript_id, "new-model")
    assert len(new_vectors) == passages
    assert {len(vector) for vector in new_vectors} == {48}
    again = embedder_for(old).embed_missing(unit_of_work, transcript_id=uuid.UUID(transcript_id))
    assert await again == 0  # the old model's vectors are all there still
    assert len(old.passage_calls) == math.ceil(passages / 4)


async def test_a_fetched_video_is_embedded_after_it_is_stored(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    provider = HashingEmbedder()
    queued = await client.post(
        "/api/v1/transcripts/ingest", json={"video": talk().video_id}, headers=alice.headers
    )
    worker = worker_for(session, provider)

    assert await worker.run_once() is True  # fetch and store; an embed job is queued
    assert await worker.run_once() is True  # embed

    ingest, embed = sorted(await jobs_of(client, alice), key=lambda job: job["kind"] == "embed")
    assert ingest["id"] == queued.json()["id"]
    assert (ingest["status"], embed["status"]) == ("done", "done")
    assert embed["transcript_id"] == ingest["transcript_id"]
    passages = await passage_count(session, ingest["transcript_id"])
    assert passages > 0
    assert len(await vectors_of(session, ingest["transcript_id"], provider.model_name)) == passages


async def test_search_works_before_any_vector_exists(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await upload(client, alice)

    found = await client.get("/api/v1/search", params={"q": "vacuum"}, headers=alice.headers)

    assert found.status_code == 200
    assert found.json()["hits"]
    assert (await jobs_of(client, alice))[0]["status"] == "queued"


async def test_a_long_embed_job_takes_turns_with_the_jobs_queued_after_it(
    make_client: ClientFactory, alice: Account, bob: Account, session: AsyncSession
) -> None:
    """One account's long transcript must not hold the worker from everyone else: past its
    slice of time the job goes back to the queue, behind the jobs waiting, without counting
    an attempt, and goes on where it stopped."""
    provider = HashingEmbedder()
    worker = worker_for(session, provider, job_embed_slice_seconds=1e-6)
    async with make_client(chunk_tokens=40) as client:
        long_id = await upload(client, alice)
        short = await client.post(
            "/api/v1/transcripts",
            json={"video": "EmbedVid004", "transcript_text": "Vacuum keeps tables small."},
            headers=bob.headers,
        )
        short_id = short.json()["id"]
        passages = await passage_count(session, long_id)
        assert passages > 4  # more than one batch of the worker's 4

        assert await worker.run_once() is True  # the long job's first turn: one batch
        (turned,) = await jobs_of(client, alice)
        assert (turned["status"], turned["attempts"]) == ("queued", 0)
        assert len(await vectors_of(session, long_id, provider.model_name)) == 4

        assert await worker.run_once() is True  # bob's job, queued meanwhile, goes next
        assert (await jobs_of(client, bob))[0]["status"] == "done"
        assert (await jobs_of(client, alice))[0]["status"] == "queued"

        while await worker.run_once():
            pass
        (done,) = await jobs_of(client, alice)

    assert (done["status"], done["attempts"]) == ("done", 1)
    assert len(await vectors_of(session, long_id, provider.model_name)) == passages
    assert await vectors_of(session, short_id, provider.model_name)


class StallingEmbedder(HashingEmbedder):
    """Embeds its first batch, then waits for ever: a worker stopped in the middle of a job."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = asyncio.Event()

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        if self.passage_calls:
            self.stalled.set()
            await asyncio.Event().wait()
        return await super().embed_passages(texts)


async def test_a_worker_stopped_mid_job_hands_it_back_at_once_its_attempt_not_counted(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    """As a server stopping does: the job is queued again for the next worker, not left
    running until it is stale (two minutes) with an attempt spent."""
    transcript_id = await upload(client, alice)
    provider = StallingEmbedder()
    running = asyncio.create_task(worker_for(session, provider).run_once())
    await asyncio.wait_for(provider.stalled.wait(), 30)

    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    (job,) = [j for j in await jobs_of(client, alice) if j["transcript_id"] == transcript_id]
    assert (job["status"], job["attempts"]) == ("queued", 0)
    assert len(await vectors_of(session, transcript_id, provider.model_name)) == 4  # kept
