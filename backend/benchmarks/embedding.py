"""What embedding costs: the offline model and the HTTP client in chunks/s, and a 3-hour video
embedded by its background job.

1. The offline model (all-MiniLM-L6-v2, int8, in this process) on ~700-token chunks of real talks
   (testkit/talks, chunked with the application's settings), best of 3, with the load
   average at each run.
2. The HTTP client (`HttpEmbeddingProvider`, batches of 64) against the tests' fake
   OpenAI-compatible server (testkit/llm_server.py) on 127.0.0.1, in this process: it answers at
   once, so this measures the client's own overhead; best of 3, end to end and without the time
   the fake's handler spent answering.
3. A 3-hour video (the talk benchmark's replayed one) ingested by an `IngestWorker` with an
   `Embedder` on the offline model, then the embed job the ingest queued (`run_once`: claim,
   `Embedder.embed_missing(transcript_id=...)`, done), timed with its passages/s (a passage
   is a run of captions inside a chunk, app/services/passages.py: the unit that gets a vector).

The database is created on the server BENCH_DATABASE_URL or TEST_DATABASE_URL names, else on an
embedded PostgreSQL in backend/.data/postgres-bench, migrated to head and dropped at the end.
Takes about 30 s on two busy cores:

    cd backend && .venv/bin/python -m benchmarks.embedding
"""

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from rich.table import Table
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response

from app.core.config import Settings
from app.db.repositories import JobRepository
from app.services.chunking import Segment, chunk_segments
from app.services.embeddings.http import HttpEmbeddingProvider
from app.services.embeddings.offline import DIMENSION, OfflineEmbeddings
from app.services.ingest_worker import IngestWorker
from app.services.passage_embeddings import Embedder
from app.services.youtube_fetcher import YouTubeFetcher
from benchmarks.harness import run_database_benchmark
from benchmarks.http_load import report_console
from benchmarks.repositories import asyncpg_pool, server_url, throwaway_database
from benchmarks.talk import (
    POOL_SIZE,
    SEED,
    Sessions,
    TextGenerator,
    application_engine,
    new_user,
    three_hour_video,
    units_of_work,
)
from testkit.corpus import load_talks
from testkit.llm_server import FakeEmbeddings, serving
from testkit.youtube_replay import replay_session

OFFLINE_CHUNKS = 32
HTTP_CHUNKS = 1_280
HTTP_BATCH_SIZE = 64
THROUGHPUT_RUNS = 3
LONG_CHUNK_SHARE = 0.8  # of CHUNK_TOKENS: the talks' full chunks, not their tails


# --- 1. and 2. throughput --------------------------------------------------------------------


def long_chunks(settings: Settings) -> list[str]:
    """The real talks, chunked as the application chunks them; the full-length chunks only."""
    texts = []
    for talk in load_talks():
        segments = [Segment(s.text, s.start, s.duration) for s in talk.segments]
        for chunk in chunk_segments(
            segments, settings.chunk_tokens, settings.chunk_overlap, settings.tokenizer_encoding
        ):
            if chunk.token_count >= LONG_CHUNK_SHARE * settings.chunk_tokens:
                texts.append(chunk.text)
    return texts


@dataclass(frozen=True)
class ThroughputRun:
    chunks: int
    seconds: float
    load: float
    answering: float = 0.0  # the fake server's own time, within `seconds`

    @property
    def client_seconds(self) -> float:
        return self.seconds - self.answering


async def offline_throughput(
    provider: OfflineEmbeddings, texts: Sequence[str]
) -> list[ThroughputRun]:
    runs = []
    for _ in range(THROUGHPUT_RUNS):
        load = os.getloadavg()[0]
        started = time.perf_counter()
        await provider.embed_passages(texts)
        runs.append(ThroughputRun(len(texts), time.perf_counter() - started, load))
    return runs


@dataclass
class TimedFakeEmbeddings(FakeEmbeddings):
    """The tests' fake server, with the time its handler spent (parsing, building the answer)."""

    seconds: float = 0.0

    async def embeddings(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            return await super().embeddings(request)
        finally:
            self.seconds += time.perf_counter() - started
            self.requests.clear()  # the fake keeps every payload: not needed here
            self.headers.clear()


async def http_throughput(settings: Settings, texts: Sequence[str]) -> list[ThroughputRun]:
    fake = TimedFakeEmbeddings(dimensions=DIMENSION)
    runs = []
    async with serving(fake) as base_url:
        client_settings = settings.model_copy(
            update={
                "embedding_base_url": base_url,
                "embedding_api_key": None,
                "embedding_model": "bench-embedder",
                "embedding_dimensions": None,
                "embedding_batch_size": HTTP_BATCH_SIZE,
            }
        )
        provider = HttpEmbeddingProvider(client_settings)
        try:
            await provider.embed_passages(texts[:HTTP_BATCH_SIZE])  # connect, warm up
            for _ in range(THROUGHPUT_RUNS):
                load, fake.seconds = os.getloadavg()[0], 0.0
                started = time.perf_counter()
                await provider.embed_passages(texts)
                seconds = time.perf_counter() - started
                runs.append(ThroughputRun(len(texts), seconds, load, fake.seconds))
        finally:
            await provider.aclose()
    return runs


def cycled(texts: Sequence[str], count: int) -> list[str]:
    return [texts[i % len(texts)] for i in range(count)]


# --- 3. a 3-hour video embedded in the background --------------------------------------------


class TimedProvider:
    """The offline provider, with the time its embed_passages calls took (the model's work)."""

    def __init__(self, inner: OfflineEmbeddings) -> None:
        self.inner = inner
        self.seconds = 0.0

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        started = time.perf_counter()
        try:
            return await self.inner.embed_passages(texts)
        finally:
            self.seconds += time.perf_counter() - started

    async def embed_query(self, text: str) -> list[float]:
        return await self.inner.embed_query(text)

    async def aclose(self) -> None:
        """The inner provider outlives the job: the benchmark closes it."""


@dataclass(frozen=True)
class VideoEmbedding:
    passages: int
    ingest_seconds: float
    embed_seconds: float
    model_seconds: float  # within embed_seconds
    load: float


async def embed_a_video(
    sessions: Sessions, pool: asyncpg.Pool, settings: Settings, provider: OfflineEmbeddings
) -> VideoEmbedding:
    """Ingest the 3-hour video with an embedding worker, then run the embed job it queued."""
    user_id = await new_user(pool)
    video = three_hour_video("bench3hvec", TextGenerator(SEED + 2))
    timed = TimedProvider(provider)
    embedder = Embedder(settings, factory=lambda _: timed)
    unit_of_work = units_of_work(sessions)
    fetcher = YouTubeFetcher(http=replay_session(video)[0])
    worker = IngestWorker(unit_of_work, lambda: fetcher, settings, embedder)
    started = time.perf_counter()
    async with unit_of_work() as session:
        await JobRepository(session).enqueue_ingest(
            user_id=user_id,
            video_id=video.video_id,
            languages=settings.ingest_languages,
            max_attempts=settings.job_max_attempts,
        )
    await worker.run_once()
    ingest_seconds, load = time.perf_counter() - started, os.getloadavg()[0]
    started = time.perf_counter()
    if not await worker.run_once():
        raise RuntimeError("no embed job was queued for the ingested video")
    embed_seconds = time.perf_counter() - started
    counts = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM passages WHERE user_id = $1) AS passages, "
        "(SELECT count(*) FROM passage_embeddings WHERE user_id = $1) AS embedded, "
        "(SELECT count(*) FROM jobs WHERE user_id = $1 AND kind = 'embed' AND status = 'done') "
        "AS done",
        user_id,
    )
    if counts["done"] != 1 or counts["embedded"] != counts["passages"] or not counts["passages"]:
        raise RuntimeError(f"the embed job did not finish its work: {dict(counts.items())}")
    return VideoEmbedding(counts["passages"], ingest_seconds, embed_seconds, timed.seconds, load)


# --- report ----------------------------------------------------------------------------------


def throughput_table(
    offline: Sequence[ThroughputRun],
    http: Sequence[ThroughputRun],
    video: VideoEmbedding,
    chunk_tokens: int,
) -> Table:
    table = Table(
        title="Embedding throughput: 1. the offline model, 2. the HTTP client, 3. an embed job",
        caption=(
            f"1 and 2: best of {THROUGHPUT_RUNS}; load: the 1-minute load average at that run. "
            "The HTTP client runs against the tests' fake server in this process: 'client only' "
            "leaves out the time the fake's handler spent building its answers. 3: the job from "
            "its claim to done, batches of the configured size, each stored in a transaction."
        ),
    )
    for header in ("what", "texts", "s", "texts/s", "load", "target"):
        table.add_column(header, justify="left" if header in ("what", "target") else "right")
    best_offline = max(offline, key=lambda r: r.chunks / r.seconds)
    best_http = max(http, key=lambda r: r.chunks / r.seconds)
    best_client = max(http, key=lambda r: r.chunks / r.client_seconds)
    rows = (
        (f"1. offline model, ~{chunk_tokens}-token chunks", best_offline, best_offline.seconds),
        (f"2. HTTP client + fake, batches of {HTTP_BATCH_SIZE}", best_http, best_http.seconds),
        ("2. HTTP client only", best_client, best_client.client_seconds),
    )
    figures = [(label, run_.chunks, seconds, run_.load) for label, run_, seconds in rows]
    figures += [
        ("3. 3-hour video's passages: its embed job, one run (claim, embed_missing, done)",
         video.passages, video.embed_seconds, video.load),
        ("3.   of which the model (embed_passages)", video.passages, video.model_seconds,
         video.load),
    ]  # fmt: skip
    for label, chunks, seconds, load in figures:
        table.add_row(
            label, f"{chunks:,}", f"{seconds:.2f}", f"{chunks / seconds:,.1f}", f"{load:.2f}",
            "no target",
        )  # fmt: skip
    return table


# --- entry point -----------------------------------------------------------------------------


async def benchmark() -> None:
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    provider = OfflineEmbeddings()
    try:
        async with throwaway_database(server_url()) as database_url:
            settings = Settings(
                database_url=database_url, db_pool_size=POOL_SIZE, db_max_overflow=0
            )
            texts = long_chunks(settings)
            await provider.embed_passages(texts[:1])  # load the model
            offline = await offline_throughput(provider, cycled(texts, OFFLINE_CHUNKS))
            http = await http_throughput(settings, cycled(texts, HTTP_CHUNKS))
            async with application_engine(settings) as engine, asyncpg_pool(database_url) as pool:
                sessions = async_sessionmaker(engine, expire_on_commit=False)
                video = await embed_a_video(sessions, pool, settings, provider)
    finally:
        await provider.aclose()
    console = report_console()
    console.print(throughput_table(offline, http, video, settings.chunk_tokens))
    console.print(
        f"3-hour video: {video.passages} passages, ingested in {video.ingest_seconds:.1f} s, "
        f"embedded by its job in {video.embed_seconds:.1f} s. {os.cpu_count()} cores; load "
        f"average {load_before:.2f} before the run and {os.getloadavg()[0]:.2f} at the end. "
        f"Took {time.perf_counter() - started:.0f} s.",
        markup=False,
    )


def main() -> None:
    run_database_benchmark(benchmark)


if __name__ == "__main__":
    main()
