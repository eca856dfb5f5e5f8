"""What ingesting a long transcript costs, medians of three rounds against their targets:
1. chunking 300,000 words of captions and of plain text, against the word-by-word
implementation it replaced (kept here as the baseline, checked to give the same chunks) and the
floor of encoding the text once; 2. the GC's pauses in a 3-hour video's ingestion, here and in
the worker process; 3. `store_transcript` of the 300,000 words, with its parts, in turns with
the metadata GIN indexes as migrated, as `jsonb_path_ops` and without. About half a minute:

    cd backend && .venv/bin/python -m benchmarks.ingest
"""

import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.core.config import Settings
from app.core.offload import run_in_process, shutdown_pools
from app.services.chunking import Segment, TextChunk, chunk_segments, chunk_text, get_tokenizer
from app.services.transcript_text import ChunkOptions, prepare_text
from app.services.transcripts import NewTranscript, store_transcript
from benchmarks.harness import database as db
from benchmarks.harness import report
from benchmarks.harness.ingestion import GC, TOTAL, ingest_once, statement_kind, three_hour_video
from benchmarks.harness.machine import Clock, run_benchmark
from benchmarks.harness.text import SEED, TextGenerator
from benchmarks.harness.timing import StatementTimer, gc_pauses, pause_seconds

WORDS, CAPTION_SECONDS, ROUNDS = 300_000, 4.0, 3
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


def seconds_of(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def median_seconds(function: Callable[[], object]) -> tuple[float, float]:
    """The median time of a few calls, and the median of the GC's pauses within them."""
    rounds = []
    for _ in range(ROUNDS):
        with gc_pauses() as pauses:
            seconds = seconds_of(function)
        rounds.append((seconds, pause_seconds(pauses)))
    return statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)


def prepare_with_gc_pauses(source: Any, options: ChunkOptions) -> tuple[float, float]:
    """`prepare_text` in a worker process: (its seconds, the GC's pauses within them)."""
    with gc_pauses() as pauses:
        seconds = seconds_of(lambda: prepare_text(source, options))
    return seconds, pause_seconds(pauses)


def row(label: str, seconds: float, baseline: float | None = None, target: float | None = None,
        share: bool = False) -> list[str]:  # fmt: skip
    """A row: the time (or with `share`, a share of a time), as a multiple of `baseline`, and
    its verdict against `target`."""
    cells = [label, f"{seconds:.1%}" if share else f"{seconds:.3f}"]
    cells.append(f"{seconds / baseline:.2f}x" if baseline else "")
    if target is None:
        return [*cells, "", ""]
    limit = f"< {target:.0%}" if share else f"<= {target:g}"
    return [*cells, limit, report.verdict(seconds <= target)]


def chunking_rows(captions: Sequence[Segment], settings: Settings) -> list[list[str]]:
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
    tokenizer = get_tokenizer(settings.tokenizer_encoding)

    def encode_once() -> list[list[int]]:
        """The whole text's tokens, in slices the tokenizer accepts."""
        words = text.split(" ")
        return [tokenizer.encode_ordinary(" ".join(words[at : at + FLOOR_SLICE_WORDS]))
                for at in range(0, len(words), FLOOR_SLICE_WORDS)]  # fmt: skip

    floor, _ = median_seconds(encode_once)
    return [
        row("word by word (baseline), captions", baseline),
        row("  GC pauses within", baseline_gc, baseline),
        row("chunk_segments, captions", segments, baseline, CHUNKING_TARGET),
        row("  GC pauses within", segments_gc, segments),
        row("word by word (baseline), plain text", text_baseline),
        row("chunk_text, plain text", plain, text_baseline, CHUNKING_TARGET),
        row("floor: encoding the whole text once", floor, baseline),
    ]


async def gc_rows(bench: db.Bench, user_id: uuid.UUID) -> list[list[str]]:
    text, runs = TextGenerator(SEED + 1), []
    for n in range(ROUNDS):
        video = three_hour_video(f"gc3h{n:04d}{uuid.uuid4().hex[:3]}", text)
        run = await ingest_once(bench, user_id, video)
        source = [(caption, start, duration) for start, duration, caption in video.captions]
        options = ChunkOptions.of(bench.settings)
        _, in_worker = await run_in_process(prepare_with_gc_pauses, source, options)
        seconds, here = run[TOTAL], run[GC]
        runs.append((seconds, here, in_worker, (here + in_worker) / seconds))
    seconds, here, in_worker, share = (
        statistics.median(figures) for figures in zip(*runs, strict=True)
    )
    return [
        row("3-hour video: enqueue -> done", seconds),
        row("  GC pauses in this process", here, seconds),
        row("  GC pauses in the worker process", in_worker, seconds),
        row("  GC pauses, both, share of the time", share, None, GC_SHARE_TARGET, share=True),
    ]


async def store_once(
    bench: db.Bench, user_id: uuid.UUID, captions: Sequence[Segment]
) -> dict[str, float]:
    """Seconds of storing the captions, and of its parts."""
    settings, unit_of_work = bench.settings, db.units_of_work(bench.sessions)
    source = [(c.text, c.start, c.duration) for c in captions]
    options = ChunkOptions.of(settings)
    preparing = seconds_of(lambda: prepare_text(source, options))
    new = NewTranscript(video_id=f"long{uuid.uuid4().hex[:7]}", segments=captions)
    with (
        StatementTimer(statement_kind).listening(bench.engine) as statements,
        gc_pauses() as pauses,
    ):
        started = time.perf_counter()
        async with unit_of_work() as session:
            await store_transcript(session, user_id, new, settings)
        total = time.perf_counter() - started
    sql = {table: statements.seconds[table] for table in ("transcripts", "chunks", "passages")}
    return {"total": total, "prepare": preparing, **sql, "gc": pause_seconds(pauses)}


async def storing_rows(
    bench: db.Bench, user_id: uuid.UUID, captions: Sequence[Segment]
) -> list[list[str]]:
    """What the two GIN indexes on metadata cost (no query filters on metadata yet): in turns,
    as migrated (jsonb_ops), rebuilt with jsonb_path_ops (values only, not keys), and none."""
    await run_in_process(prepare_text, [("warm up", 0.0, 1.0)], ChunkOptions.of(bench.settings))
    variants: dict[str | None, list[dict[str, float]]] = {op: [] for op in OPERATOR_CLASSES}
    for _ in range(ROUNDS):
        for operators, rounds in variants.items():
            await index_metadata(bench.pool, operators)
            rounds.append(await store_once(bench, user_id, captions))
    await index_metadata(bench.pool, "jsonb_ops")
    parts, path_ops, without = (
        {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        for rounds in variants.values()
    )
    total = parts["total"]
    return [
        row("store_transcript + commit, captions", total, None, STORING_TARGET),
        row("  prepare_text alone (the worker process's part)", parts["prepare"], total),
        row("  SQL INSERT transcripts (2.6 MB JSONB segments)", parts["transcripts"], total),
        row("  SQL INSERT chunks", parts["chunks"], total),
        row("  SQL INSERT passages (to_tsvector on each)", parts["passages"], total),
        row("  GC pauses in this process", parts["gc"], total),
        row("the same, metadata GIN indexes jsonb_path_ops", path_ops["total"], total),
        row("  SQL INSERT transcripts", path_ops["transcripts"], total),
        row("  SQL INSERT chunks", path_ops["chunks"], total),
        row("the same without metadata GIN indexes", without["total"], total),
        row("  SQL INSERT transcripts", without["transcripts"], total),
        row("  SQL INSERT chunks", without["chunks"], total),
    ]


async def index_metadata(pool: asyncpg.Pool, operators: str | None) -> None:
    """The GIN indexes on metadata with these operators (jsonb_ops as migrated), or none."""
    await pool.execute(f"DROP INDEX IF EXISTS {', '.join(METADATA_INDEXES)}")
    for index, table in METADATA_INDEXES.items():
        if operators is not None:
            await pool.execute(f"CREATE INDEX {index} ON {table} USING gin (metadata {operators})")


async def benchmark() -> None:
    clock, text, captions, words = Clock(), TextGenerator(SEED), list[Segment](), 0
    topic = text.topic()
    while words < WORDS:
        caption = text.caption(topic)
        captions.append(Segment(caption, len(captions) * CAPTION_SECONDS, CAPTION_SECONDS))
        words += len(caption.split())
    async with db.bench_database() as bench:
        settings = bench.settings
        get_tokenizer(settings.tokenizer_encoding)  # loaded once, before any timing
        rows = chunking_rows(captions, settings)
        user_id = await db.new_user(bench.pool)
        try:
            rows += await gc_rows(bench, user_id)
            rows += await storing_rows(bench, user_id, captions)
        finally:
            shutdown_pools()
    report.print_tables(report.table(
        f"Ingesting long transcripts ({WORDS:,} words; medians of {ROUNDS} rounds)",
        ("", "seconds", "vs", "target", ""), rows,
        caption=f"Chunking: {settings.chunk_tokens} tokens, {settings.chunk_overlap:.0%} "
        f"overlap, {settings.tokenizer_encoding}. 'vs': the time as a multiple of the row it "
        "compares with (the baseline; the whole ingestion; the whole store). " + clock.closing(),
    ))  # fmt: skip


if __name__ == "__main__":
    run_benchmark(benchmark)
