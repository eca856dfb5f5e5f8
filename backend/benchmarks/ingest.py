"""What ingesting a long transcript costs: chunking, storing, and the garbage collector's share.

Three measurements, each figure the median of three rounds, each with its target and verdict:

1. Chunking 300,000 words (captions of 10-14 words, 4 s apart, harness/text.py's seeded text):
   `chunk_segments` on the captions and `chunk_text` on their text, against the word-by-word
   implementation they replaced (an object per word, every chunk encoded again), kept here as
   the baseline and checked to give the same chunks, with the GC's pauses within; and the
   floor, encoding the whole text once.
2. A 3-hour video ingested (harness/ingestion.py); the GC's pauses as a share of its time: this
   process's plus the worker process's (the same captions through `prepare_text` there).
3. Storing the 300,000 words: `store_transcript` of the captions and commit, the process pool
   warmed up first, with its parts (`prepare_text` alone, the three INSERTs); in turns with the
   two GIN indexes on `metadata` rebuilt as `jsonb_path_ops`, and without them.

About half a minute:

    cd backend && .venv/bin/python -m benchmarks.ingest
"""

import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.offload import run_in_process, shutdown_pools
from app.services.chunking import Segment, TextChunk, chunk_segments, chunk_text, get_tokenizer
from app.services.transcripts import ChunkOptions, NewTranscript, prepare_text, store_transcript
from benchmarks.harness import database as db
from benchmarks.harness import report
from benchmarks.harness.ingestion import ingest_once, statement_kind, three_hour_video
from benchmarks.harness.machine import Clock
from benchmarks.harness.runner import run_benchmark
from benchmarks.harness.text import SEED, TextGenerator
from benchmarks.harness.timing import StatementTimer, gc_pauses, pause_seconds

P = ParamSpec("P")
R = TypeVar("R")

WORDS = 300_000
CAPTION_SECONDS = 4.0
ROUNDS = 3
CHUNKING_TARGET = 0.25  # seconds, 300,000 words
STORING_TARGET = 0.5  # seconds, 300,000 words, end to end
GC_SHARE_TARGET = 0.10  # of a 3-hour video's ingestion
FLOOR_SLICE_WORDS = 50_000  # the tokenizer refuses texts of a million characters
OPERATOR_CLASSES = ("jsonb_ops", "jsonb_path_ops", None)  # as migrated, values only, no index
METADATA_INDEXES = {"ix_transcripts_metadata": "transcripts", "ix_chunks_metadata": "chunks"}


# --- the implementation chunking replaced, as the baseline -----------------------------------


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    tokens: int
    start: float | None
    end: float | None


def word_by_word_chunks(
    groups: Sequence[tuple[str, float | None, float | None]], settings: Settings
) -> list[TextChunk]:
    """Chunks of (text, start, end) groups as the previous implementation made them."""
    tokenizer = get_tokenizer(settings.tokenizer_encoding)
    counts: dict[str, int] = {}

    def count(word: str) -> int:
        if word not in counts:
            counts[word] = len(tokenizer.encode_ordinary(" " + word))
        return counts[word]

    words = [Word(w, count(w), start, end) for text, start, end in groups for w in text.split()]
    max_tokens, overlap = settings.chunk_tokens, int(settings.chunk_tokens * settings.chunk_overlap)
    chunks: list[TextChunk] = []
    first = 0
    while first < len(words):
        last, total = first, 0
        while last < len(words) and (last == first or total + words[last].tokens <= max_tokens):
            total, last = total + words[last].tokens, last + 1
        window = words[first:last]
        text = " ".join(word.text for word in window)
        moments: list[tuple[int, float]] = []
        for offset, word in enumerate(window):
            if word.start is not None and (not moments or word.start != moments[-1][1]):
                moments.append((offset, word.start))
        tokens = len(tokenizer.encode_ordinary(text))
        chunks.append(
            TextChunk(len(chunks), text, tokens, window[0].start, window[-1].end, tuple(moments))
        )
        if last >= len(words):
            break
        start, carried = last, 0
        while start - 1 > first and carried + words[start - 1].tokens <= overlap:
            start, carried = start - 1, carried + words[start - 1].tokens
        first = start
    return chunks


# --- measuring -------------------------------------------------------------------------------


def long_captions(text: TextGenerator) -> list[Segment]:
    topic, captions, words = text.topic(), list[Segment](), 0
    while words < WORDS:
        caption = text.caption(topic)
        captions.append(Segment(caption, len(captions) * CAPTION_SECONDS, CAPTION_SECONDS))
        words += len(caption.split())
    return captions


def timed(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> tuple[R, float]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def median_seconds(function: Callable[[], object]) -> tuple[float, float]:
    """The median time of a few calls, and the median of the GC's pauses within them."""
    rounds = []
    for _ in range(ROUNDS):
        with gc_pauses() as pauses:
            seconds = timed(function)[1]
        rounds.append((seconds, pause_seconds(pauses)))
    return statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)


def encode_once(text: str, settings: Settings) -> int:
    """The tokens of the whole text, encoded in slices the tokenizer accepts."""
    tokenizer = get_tokenizer(settings.tokenizer_encoding)
    words = text.split(" ")
    slices = range(0, len(words), FLOOR_SLICE_WORDS)
    return sum(
        len(tokenizer.encode_ordinary(" ".join(words[at : at + FLOOR_SLICE_WORDS])))
        for at in slices
    )


def prepare_with_gc_pauses(
    source: list[tuple[str, float, float]], options: ChunkOptions
) -> tuple[float, float]:
    """`prepare_text` in a worker process: (its seconds, the GC's pauses within them)."""
    with gc_pauses() as pauses:
        seconds = timed(prepare_text, source, options)[1]
    return seconds, pause_seconds(pauses)


@dataclass(frozen=True)
class Row:
    label: str
    seconds: float
    baseline: float | None = None  # what the ratio compares with
    target: float | None = None
    share: bool = False  # `seconds` is a share of a time, not seconds

    def cells(self) -> list[str]:
        ratio = f"{self.seconds / self.baseline:.2f}x" if self.baseline else ""
        value = f"{self.seconds:.1%}" if self.share else f"{self.seconds:.3f}"
        if self.target is None:
            return [self.label, value, ratio, "", ""]
        verdict = report.verdict(self.seconds <= self.target)
        limit = f"< {self.target:.0%}" if self.share else f"<= {self.target:g}"
        return [self.label, value, ratio, limit, verdict]


def chunking_rows(captions: Sequence[Segment], settings: Settings) -> list[Row]:
    options = (settings.chunk_tokens, settings.chunk_overlap, settings.tokenizer_encoding)
    text = " ".join(caption.text for caption in captions)
    groups = [(c.text, c.start, c.start + c.duration) for c in captions]
    same = chunk_segments(captions, *options) == word_by_word_chunks(groups, settings)
    same_text = chunk_text(text, *options) == word_by_word_chunks([(text, None, None)], settings)
    if not (same and same_text):
        raise RuntimeError("chunking gives other chunks than the word-by-word baseline")
    baseline, baseline_gc = median_seconds(lambda: word_by_word_chunks(groups, settings))
    segments, segments_gc = median_seconds(lambda: chunk_segments(captions, *options))
    text_baseline, _ = median_seconds(lambda: word_by_word_chunks([(text, None, None)], settings))
    plain, _ = median_seconds(lambda: chunk_text(text, *options))
    floor, _ = median_seconds(lambda: encode_once(text, settings))
    return [
        Row("word by word (baseline), captions", baseline),
        Row("  GC pauses within", baseline_gc, baseline),
        Row("chunk_segments, captions", segments, baseline, CHUNKING_TARGET),
        Row("  GC pauses within", segments_gc, segments),
        Row("word by word (baseline), plain text", text_baseline),
        Row("chunk_text, plain text", plain, text_baseline, CHUNKING_TARGET),
        Row("floor: encoding the whole text once", floor, baseline),
    ]


async def store_once(
    engine: AsyncEngine, settings: Settings, user_id: uuid.UUID, captions: Sequence[Segment]
) -> dict[str, float]:
    """Seconds of storing the captions, and of its parts."""
    unit_of_work = db.units_of_work(db.session_maker(engine))
    source = [(c.text, c.start, c.duration) for c in captions]
    preparing = timed(prepare_text, source, ChunkOptions.of(settings))[1]
    new = NewTranscript(video_id=f"long{uuid.uuid4().hex[:7]}", segments=captions)
    with StatementTimer(statement_kind).listening(engine) as statements, gc_pauses() as pauses:
        started = time.perf_counter()
        async with unit_of_work() as session:
            await store_transcript(session, user_id, new, settings)
        total = time.perf_counter() - started
    return {
        "total": total,
        "prepare": preparing,
        "transcripts": statements.seconds["transcripts"],
        "chunks": statements.seconds["chunks"],
        "passages": statements.seconds["passages"],
        "gc": pause_seconds(pauses),
    }


async def index_metadata(pool: asyncpg.Pool, operators: str | None) -> None:
    """The GIN indexes on metadata with these operators (jsonb_ops as migrated), or none."""
    await pool.execute(f"DROP INDEX IF EXISTS {', '.join(METADATA_INDEXES)}")
    for index, table in METADATA_INDEXES.items():
        if operators is not None:
            await pool.execute(f"CREATE INDEX {index} ON {table} USING gin (metadata {operators})")


async def storing_rows(
    engine: AsyncEngine,
    pool: asyncpg.Pool,
    settings: Settings,
    user_id: uuid.UUID,
    captions: Sequence[Segment],
) -> list[Row]:
    await run_in_process(prepare_text, [("warm up", 0.0, 1.0)], ChunkOptions.of(settings))
    # What the two GIN indexes on metadata cost (no query filters on metadata yet): in turns,
    # as migrated, rebuilt with jsonb_path_ops (values only, not keys), and none.
    variants: dict[str | None, list[dict[str, float]]] = {op: [] for op in OPERATOR_CLASSES}
    for _ in range(ROUNDS):
        for operators, rounds in variants.items():
            await index_metadata(pool, operators)
            rounds.append(await store_once(engine, settings, user_id, captions))
    await index_metadata(pool, "jsonb_ops")
    parts, path_ops, without = (
        {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        for rounds in variants.values()
    )
    total = parts["total"]
    return [
        Row("store_transcript + commit, captions", total, None, STORING_TARGET),
        Row("  prepare_text alone (the worker process's part)", parts["prepare"], total),
        Row("  SQL INSERT transcripts (2.6 MB JSONB segments)", parts["transcripts"], total),
        Row("  SQL INSERT chunks", parts["chunks"], total),
        Row("  SQL INSERT passages (to_tsvector on each)", parts["passages"], total),
        Row("  GC pauses in this process", parts["gc"], total),
        Row("the same, metadata GIN indexes jsonb_path_ops", path_ops["total"], total),
        Row("  SQL INSERT transcripts", path_ops["transcripts"], total),
        Row("  SQL INSERT chunks", path_ops["chunks"], total),
        Row("the same without metadata GIN indexes", without["total"], total),
        Row("  SQL INSERT transcripts", without["transcripts"], total),
        Row("  SQL INSERT chunks", without["chunks"], total),
    ]  # fmt: skip


async def gc_rows(
    engine: AsyncEngine, sessions: db.Sessions, settings: Settings, user_id: uuid.UUID
) -> list[Row]:
    text, runs, shares = TextGenerator(SEED + 1), [], []
    options = ChunkOptions.of(settings)
    for n in range(ROUNDS):
        video = three_hour_video(f"gc3h{n:04d}{uuid.uuid4().hex[:3]}", text)
        run = await ingest_once(engine, sessions, settings, user_id, video)
        here = run.gc_seconds
        source = [(caption, start, duration) for start, duration, caption in video.captions]
        _, in_worker = await run_in_process(prepare_with_gc_pauses, source, options)
        runs.append((run.seconds, here, in_worker))
        shares.append((here + in_worker) / run.seconds)
    share = statistics.median(shares)
    seconds = statistics.median(r[0] for r in runs)
    return [
        Row("3-hour video: enqueue -> done", seconds),
        Row("  GC pauses in this process", statistics.median(r[1] for r in runs), seconds),
        Row("  GC pauses in the worker process", statistics.median(r[2] for r in runs), seconds),
        Row("  GC pauses, both, share of the time", share, None, GC_SHARE_TARGET, share=True),
    ]


async def benchmark() -> None:
    clock = Clock()
    async with db.throwaway_database() as database_url:
        settings = Settings(database_url=database_url)
        captions = long_captions(TextGenerator(SEED))
        get_tokenizer(settings.tokenizer_encoding)  # loaded once, before any timing
        rows = chunking_rows(captions, settings)
        async with db.app_engine(settings) as engine, db.asyncpg_pool(database_url) as pool:
            user_id = await db.new_user(pool)
            try:
                rows += await gc_rows(engine, db.session_maker(engine), settings, user_id)
                rows += await storing_rows(engine, pool, settings, user_id, captions)
            finally:
                shutdown_pools()
    report.print_tables(
        report.table(
            f"Ingesting long transcripts ({WORDS:,} words; medians of {ROUNDS} rounds)",
            ("", "seconds", "vs", "target", ""),
            [row.cells() for row in rows],
            caption=f"Chunking: {settings.chunk_tokens} tokens, {settings.chunk_overlap:.0%} "
            f"overlap, {settings.tokenizer_encoding}. 'vs': the time as a multiple of the row it "
            "compares with (the baseline; the whole ingestion; the whole store). "
            + clock.closing(),
        )
    )


if __name__ == "__main__":
    run_benchmark(benchmark)
