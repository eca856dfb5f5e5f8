"""A 3-hour video ingested end to end, with where the time goes, and the table that shows it: a
job queued with `JobRepository.enqueue_ingest`, then `IngestWorker.run_once()` with a
`YouTubeFetcher` on the offline replay (testkit/youtube_replay.py) serving 2,700 captions of
about 12 words, 4 s apart. Timed from the enqueue to the job marked done; beside it the fetch
and parse (timed around the fetcher), the chunking (`chunk_segments` again on the same captions,
alone), the SQL statements by table (round trips included), the commits, the rest, and the
garbage collector's pauses within all that."""

import json
import time
import uuid
from collections.abc import Sequence

from rich.table import Table

from app.core.config import Settings
from app.db.models import Chunk
from app.db.repositories import ChunkRepository, JobRepository
from app.services.chunking import chunk_segments, get_tokenizer
from app.services.ingest_worker import IngestWorker
from app.services.youtube.fetcher import FetchedVideo, YouTubeFetcher
from benchmarks.harness.database import Bench, units_of_work
from benchmarks.harness.report import table
from benchmarks.harness.text import SEED, TextGenerator
from benchmarks.harness.timing import StatementTimer, gc_pauses, median, pause_seconds
from testkit.youtube_replay import replay_session
from testkit.youtube_video_artefacts import ReplayVideo

CAPTIONS, CAPTION_SECONDS = 2_700, 4.0  # 3 hours
TOTAL, GC = "enqueue -> done, s", "GC pauses, within the rows above, s"
SQL_ROWS = {  # the statements' kinds (statement_kind), and their rows
    "transcripts": "  SQL INSERT transcripts, s", "chunks": "  SQL INSERT chunks, s",
    "passages": "  SQL INSERT passages, s", "jobs": "  SQL on jobs (enqueue, claim, done), s",
    "other": "  SQL other, s",
}  # fmt: skip


def three_hour_video(video_id: str, text: TextGenerator) -> ReplayVideo:
    topic = text.topic()
    captions = [
        (n * CAPTION_SECONDS, CAPTION_SECONDS, text.caption(topic)) for n in range(CAPTIONS)
    ]
    return ReplayVideo(video_id, f"Three hours of {topic}", "Bench", captions)


def statement_kind(statement: str) -> str:
    """Which table an ingestion's statement writes: the rows of the ingestion table."""
    text = statement.lstrip()
    for name in ("transcripts", "chunks", "passages"):
        if text.startswith(f"INSERT INTO {name}"):
            return name
    return "jobs" if "jobs" in text else "other"


class TimedFetcher:
    """The real fetcher, with the time its fetch (requests, parsing) took and what it got."""

    def __init__(self, inner: YouTubeFetcher) -> None:
        self.inner, self.seconds = inner, 0.0
        self.video: FetchedVideo | None = None

    def fetch(self, video_id: str, languages: Sequence[str]) -> FetchedVideo:
        started = time.perf_counter()
        self.video = self.inner.fetch(video_id, languages)
        self.seconds = time.perf_counter() - started
        return self.video


async def ingest_once(bench: Bench, user_id: uuid.UUID, video: ReplayVideo) -> dict[str, float]:
    """The ingestion table's figures of one ingestion, by row: timed from the enqueue to the
    job marked done."""
    commits: list[float] = []
    settings, unit_of_work = bench.settings, units_of_work(bench.sessions, commits)
    fetcher = TimedFetcher(YouTubeFetcher(http=replay_session(video)[0]))
    worker = IngestWorker(unit_of_work, lambda: fetcher, settings)
    with StatementTimer(statement_kind).listening(bench.engine) as timer, gc_pauses() as pauses:
        started = time.perf_counter()
        async with unit_of_work() as session:
            job, _ = await JobRepository(session).enqueue_ingest(
                user_id=user_id, video_id=video.video_id, languages=settings.ingest_languages,
                max_attempts=settings.job_max_attempts,
            )  # fmt: skip
        processed = await worker.run_once()
        seconds = time.perf_counter() - started
    async with unit_of_work() as session:
        finished = await JobRepository(session).get_by_id(job.id)
        if not processed or finished is None or finished.transcript_id is None:
            raise RuntimeError(f"the ingest job for {video.video_id} did not finish: {finished}")
        chunks = await ChunkRepository(session).count(Chunk.transcript_id == finished.transcript_id)
    assert fetcher.video is not None
    segments = fetcher.video.segments
    chunking_started = time.perf_counter()
    chunk_segments(segments, settings.chunk_tokens, settings.chunk_overlap,
                   settings.tokenizer_encoding)  # fmt: skip
    chunking = time.perf_counter() - chunking_started
    segments_json = json.dumps(
        [{"text": s.text, "start": s.start, "duration": s.duration} for s in segments]
    )
    figures = {
        "captions": len(segments), "words": sum(len(s.text.split()) for s in segments),
        "segments JSON in transcripts.metadata, kB": len(segments_json) / 1024,
        "chunks": chunks, "chunks/s": chunks / seconds, TOTAL: seconds,
        "  fetch+parse, s": fetcher.seconds, "  chunking, s": chunking,
        **{row: timer.seconds.get(kind, 0.0) for kind, row in SQL_ROWS.items()},
        "  commits, s": sum(commits),
    }  # fmt: skip
    accounted = sum(value for label, value in figures.items() if label.startswith("  "))
    return figures | {
        "  rest, s": seconds - accounted,
        GC: pause_seconds(pauses),
        "full (generation 2) collections": sum(g == 2 for g, _ in pauses),
    }


async def measure_ingestion(
    bench: Bench, user_id: uuid.UUID
) -> tuple[dict[str, dict[str, float]], float]:
    """Three ingestions by video id, after loading the tokenizer (timed: a worker's first job
    pays it)."""
    started, settings = time.perf_counter(), bench.settings
    get_tokenizer(settings.tokenizer_encoding)
    tokenizer_load, text = time.perf_counter() - started, TextGenerator(SEED + 1)
    runs = {}
    for n in range(3):
        video = three_hour_video(f"bench3h{n:04d}", text)
        runs[video.video_id] = await ingest_once(bench, user_id, video)
    return runs, tokenizer_load


def ingestion_table(
    runs: dict[str, dict[str, float]], settings: Settings, tokenizer_load: float
) -> Table:
    total, rows = median([r[TOTAL] for r in runs.values()]), []
    for label in next(iter(runs.values())):
        values = [r[label] for r in runs.values()]
        values.append(median(values))
        is_time = label.endswith(", s")
        cells = [f"{v:.3f}" if is_time else f"{v:,.0f}" for v in values]
        rows.append([label, *cells, f"{values[-1] / total:.0%}" if is_time else ""])
    return table(
        "1. Ingesting a 3-hour video: enqueue_ingest, then IngestWorker.run_once (replay)",
        ["", *runs, "median", "share"],
        rows,
        caption=(
            f"Chunking: {settings.chunk_tokens} tokens, {settings.chunk_overlap:.0%} overlap, "
            f"{settings.tokenizer_encoding}. fetch+parse: the fetcher's fetch (replayed requests, "
            "no network; XML parsing). chunking: chunk_segments alone on the same captions. "
            "SQL: the statements' round trips. rest: sessions, pool pre-pings, ORM, thread "
            "hand-offs, and the garbage collector's pauses inside the worker's chunking (below "
            "zero when the separate chunking run was the slower). Loading the tokenizer took "
            f"{tokenizer_load:.2f} s (once per process, before these runs; a worker's first job "
            "pays it)."
        ),
    )
