"""What embedding costs, in texts/s: 1. the offline model on ~700-token chunks of the labelled
talks, best of 3; 2. the HTTP client (batches of 64) against the tests' fake OpenAI-compatible
server in this process, end to end and without the fake's own time, best of 3; 3. the embed job
a 3-hour video's ingestion queues (claim, `Embedder.embed_missing`, done). About 30 s:

    cd backend && .venv/bin/python -m benchmarks.embedding
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from app.core.config import Settings
from app.db.repositories import JobRepository
from app.services.chunking import chunk_segments
from app.services.embeddings.http import HttpEmbeddingProvider
from app.services.embeddings.offline import DIMENSION, OfflineEmbeddings
from app.services.ingest_worker import IngestWorker
from app.services.passage_embeddings import Embedder
from app.services.youtube.fetcher import YouTubeFetcher
from benchmarks.harness import database as db
from benchmarks.harness import report
from benchmarks.harness.ingestion import three_hour_video
from benchmarks.harness.machine import Clock, load_average, run_benchmark
from benchmarks.harness.text import SEED, TextGenerator
from benchmarks.harness.timing import timed
from testkit.corpus import load_talks
from testkit.llm_server import FakeEmbeddings, serving
from testkit.youtube_replay import replay_session

OFFLINE_CHUNKS, HTTP_CHUNKS, HTTP_BATCH_SIZE, THROUGHPUT_RUNS = 32, 1_280, 64, 3
LONG_CHUNK_SHARE = 0.8  # of the chunk size: the talks' full chunks, not their tails

Run = tuple[int, float, float]  # texts, seconds, the load average at that run


@dataclass
class TimedFakeEmbeddings(FakeEmbeddings):
    """The tests' fake server, with the time its handler spent (parsing, building the answer)."""

    seconds: float = 0.0

    async def embeddings(self, request: Request) -> Response:
        response, seconds = await timed(super().embeddings(request))
        self.seconds += seconds
        self.requests.clear()  # the fake keeps every payload: not needed here
        self.headers.clear()
        return response


class TimedProvider:
    """The offline provider, with the time its embed_passages calls took (the model's work)."""

    def __init__(self, inner: OfflineEmbeddings) -> None:
        self.inner, self.seconds = inner, 0.0
        self.model_name, self.dimension = inner.model_name, inner.dimension

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        vectors, seconds = await timed(self.inner.embed_passages(texts))
        self.seconds += seconds
        return vectors

    async def embed_query(self, text: str) -> list[float]:
        return await self.inner.embed_query(text)

    async def aclose(self) -> None:
        """The inner provider outlives the job: the benchmark closes it."""


async def best_of(embed: HttpEmbeddingProvider | OfflineEmbeddings, texts: Sequence[str],
                  fake: TimedFakeEmbeddings | None = None) -> list[Run]:  # fmt: skip
    """The best of THROUGHPUT_RUNS runs, end to end; with a fake server, then also the best of
    the same runs without the fake's own time."""
    runs = []
    for _ in range(THROUGHPUT_RUNS):
        load = load_average()
        if fake is not None:
            fake.seconds = 0.0
        _, seconds = await timed(embed.embed_passages(texts))
        runs.append((seconds, seconds - (fake.seconds if fake else 0.0), load))
    end_to_end = min(runs)
    found = [(len(texts), end_to_end[0], end_to_end[2])]
    if fake is not None:
        client = min(runs, key=lambda run: run[1])
        found.append((len(texts), client[1], client[2]))
    return found


async def embed_a_video(
    sessions: db.Sessions, pool: asyncpg.Pool, settings: Settings, provider: OfflineEmbeddings
) -> tuple[int, float, float, float, float]:
    """Ingest the 3-hour video with an embedding worker, then run the embed job it queued: its
    passages, the ingest's and the job's seconds, the model's within, and the load average."""
    user_id = await db.new_user(pool)
    video = three_hour_video("bench3hvec", TextGenerator(SEED + 2))
    # The whole job in one run: by default an embed job goes back to the queue after a slice.
    settings = settings.model_copy(update={"job_embed_slice_seconds": 3600.0})
    model = TimedProvider(provider)
    unit_of_work = db.units_of_work(sessions)
    fetcher = YouTubeFetcher(http=replay_session(video)[0])
    worker = IngestWorker(
        unit_of_work, lambda: fetcher, settings, Embedder(settings, factory=lambda _: model)
    )
    started = time.perf_counter()
    async with unit_of_work() as session:
        await JobRepository(session).enqueue_ingest(
            user_id=user_id, video_id=video.video_id, languages=settings.ingest_languages,
            max_attempts=settings.job_max_attempts,
        )  # fmt: skip
    await worker.run_once()
    ingest_seconds, load = time.perf_counter() - started, load_average()
    queued, embed_seconds = await timed(worker.run_once())
    if not queued:
        raise RuntimeError("no embed job was queued for the ingested video")
    counts = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM passages WHERE user_id = $1) AS passages, "
        "(SELECT count(*) FROM passage_embeddings WHERE user_id = $1) AS embedded, "
        "(SELECT count(*) FROM jobs WHERE user_id = $1 AND kind = 'embed' AND status = 'done') "
        "AS done",
        user_id,
    )
    if counts["done"] != 1 or counts["embedded"] != counts["passages"] or not counts["passages"]:
        raise RuntimeError(f"the embed job did not finish its work: {dict(counts.items())}")
    return counts["passages"], ingest_seconds, embed_seconds, model.seconds, load


async def benchmark() -> None:
    clock, provider = Clock(), OfflineEmbeddings()
    try:
        async with db.bench_database() as bench:
            settings = bench.settings
            texts = [  # the real talks, chunked as the application chunks them; full chunks only
                chunk.text
                for talk in load_talks()
                for chunk in chunk_segments(
                    talk.segments,
                    settings.chunk_tokens, settings.chunk_overlap, settings.tokenizer_encoding,
                )
                if chunk.token_count >= LONG_CHUNK_SHARE * settings.chunk_tokens
            ]  # fmt: skip
            await provider.embed_passages(texts[:1])  # load the model
            offline = await best_of(
                provider, [texts[i % len(texts)] for i in range(OFFLINE_CHUNKS)]
            )
            fake = TimedFakeEmbeddings(dimensions=DIMENSION)
            async with serving(fake) as base_url:
                client = HttpEmbeddingProvider(settings.model_copy(update={
                    "embedding_base_url": base_url, "embedding_api_key": None,
                    "embedding_model": "bench-embedder", "embedding_dimensions": None,
                    "embedding_batch_size": HTTP_BATCH_SIZE,
                }))  # fmt: skip
                try:
                    await client.embed_passages(texts[:HTTP_BATCH_SIZE])  # connect, warm up
                    http = await best_of(
                        client, [texts[i % len(texts)] for i in range(HTTP_CHUNKS)], fake
                    )
                finally:
                    await client.aclose()
            passages, ingest_seconds, embed_seconds, model_seconds, load = await embed_a_video(
                bench.sessions, bench.pool, settings, provider
            )
    finally:
        await provider.aclose()
    figures = [
        (f"1. offline model, ~{settings.chunk_tokens}-token chunks", *offline[0]),
        (f"2. HTTP client + fake, batches of {HTTP_BATCH_SIZE}", *http[0]),
        ("2. HTTP client only", *http[1]),
        ("3. 3-hour video's passages: its embed job, one run (claim, embed_missing, done)",
         passages, embed_seconds, load),
        ("3.   of which the model (embed_passages)", passages, model_seconds, load),
    ]  # fmt: skip
    report.print_tables(report.table(
        "Embedding throughput: 1. the offline model, 2. the HTTP client, 3. an embed job",
        ("what", "texts", "s", "texts/s", "load", "target"),
        [[label, f"{count:,}", f"{seconds:.2f}", f"{count / seconds:,.1f}", f"{load:.2f}",
          "no target"] for label, count, seconds, load in figures],
        caption=f"1 and 2: best of {THROUGHPUT_RUNS}; load: the 1-minute load average at that "
        "run. The HTTP client runs against the tests' fake server in this process: 'client "
        "only' leaves out the time the fake's handler spent building its answers. 3: the job "
        "from its claim to done, batches of the configured size, each stored in a transaction.",
    ), f"3-hour video: {passages} passages, ingested in {ingest_seconds:.1f} s, embedded by its "
       f"job in {embed_seconds:.1f} s. {clock.closing()}")  # fmt: skip


if __name__ == "__main__":
    run_benchmark(benchmark)
