"""What embedding costs: the offline model and the HTTP client in texts/s, and a 3-hour video
embedded by its background job.

1. The offline model (in this process) on ~700-token chunks of the labelled talks
   (testkit/talks, chunked with the application's settings), best of 3.
2. The HTTP client (`HttpEmbeddingProvider`, batches of 64) against the fake OpenAI-compatible
   server (testkit/llm_server.py) on 127.0.0.1, in this process: it answers at once, so this
   measures the client's own overhead; best of 3, end to end and without the fake's own time.
3. A 3-hour video (harness/ingestion.py) ingested by an `IngestWorker` with an `Embedder` on the
   offline model, then the embed job the ingest queued (`run_once`: claim,
   `Embedder.embed_missing(transcript_id=...)`, done), in passages/s.

About 30 s on two busy cores:

    cd backend && .venv/bin/python -m benchmarks.embedding
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from rich.table import Table
from starlette.requests import Request
from starlette.responses import Response

from app.core.config import Settings
from app.db.repositories import JobRepository
from app.services.chunking import Segment, chunk_segments
from app.services.embeddings.http import HttpEmbeddingProvider
from app.services.embeddings.offline import DIMENSION, OfflineEmbeddings
from app.services.ingest_worker import IngestWorker
from app.services.passage_embeddings import Embedder
from app.services.youtube.fetcher import YouTubeFetcher
from benchmarks.harness import database as db
from benchmarks.harness import report
from benchmarks.harness.ingestion import three_hour_video
from benchmarks.harness.machine import Clock, load_average
from benchmarks.harness.runner import run_benchmark
from benchmarks.harness.text import SEED, TextGenerator
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
        load = load_average()
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
                load, fake.seconds = load_average(), 0.0
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
    sessions: db.Sessions, pool: asyncpg.Pool, settings: Settings, provider: OfflineEmbeddings
) -> VideoEmbedding:
    """Ingest the 3-hour video with an embedding worker, then run the embed job it queued."""
    user_id = await db.new_user(pool)
    video = three_hour_video("bench3hvec", TextGenerator(SEED + 2))
    timed = TimedProvider(provider)
    embedder = Embedder(settings, factory=lambda _: timed)
    unit_of_work = db.units_of_work(sessions)
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
    ingest_seconds, load = time.perf_counter() - started, load_average()
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
    best_offline = max(offline, key=lambda r: r.chunks / r.seconds)
    best_http = max(http, key=lambda r: r.chunks / r.seconds)
    best_client = max(http, key=lambda r: r.chunks / r.client_seconds)
    bests = (
        (f"1. offline model, ~{chunk_tokens}-token chunks", best_offline, best_offline.seconds),
        (f"2. HTTP client + fake, batches of {HTTP_BATCH_SIZE}", best_http, best_http.seconds),
        ("2. HTTP client only", best_client, best_client.client_seconds),
    )
    figures = [(label, run_.chunks, seconds, run_.load) for label, run_, seconds in bests]
    figures += [
        ("3. 3-hour video's passages: its embed job, one run (claim, embed_missing, done)",
         video.passages, video.embed_seconds, video.load),
        ("3.   of which the model (embed_passages)", video.passages, video.model_seconds,
         video.load),
    ]  # fmt: skip
    rows = []
    for label, texts, seconds, load in figures:
        rate = f"{texts / seconds:,.1f}"
        rows.append([label, f"{texts:,}", f"{seconds:.2f}", rate, f"{load:.2f}", "no target"])
    return report.table(
        "Embedding throughput: 1. the offline model, 2. the HTTP client, 3. an embed job",
        ("what", "texts", "s", "texts/s", "load", "target"),
        rows,
        caption=f"1 and 2: best of {THROUGHPUT_RUNS}; load: the 1-minute load average at that "
        "run. The HTTP client runs against the tests' fake server in this process: 'client "
        "only' leaves out the time the fake's handler spent building its answers. 3: the job "
        "from its claim to done, batches of the configured size, each stored in a transaction.",
    )


# --- entry point -----------------------------------------------------------------------------


async def benchmark() -> None:
    clock = Clock()
    provider = OfflineEmbeddings()
    try:
        async with db.throwaway_database() as database_url:
            settings = db.bench_settings(database_url)
            texts = long_chunks(settings)
            await provider.embed_passages(texts[:1])  # load the model
            offline = await offline_throughput(provider, cycled(texts, OFFLINE_CHUNKS))
            http = await http_throughput(settings, cycled(texts, HTTP_CHUNKS))
            async with db.app_engine(settings) as engine, db.asyncpg_pool(database_url) as pool:
                video = await embed_a_video(db.session_maker(engine), pool, settings, provider)
    finally:
        await provider.aclose()
    report.print_tables(throughput_table(offline, http, video, settings.chunk_tokens))
    report.say(
        f"3-hour video: {video.passages} passages, ingested in {video.ingest_seconds:.1f} s, "
        f"embedded by its job in {video.embed_seconds:.1f} s. {clock.closing()}"
    )


if __name__ == "__main__":
    run_benchmark(benchmark)
