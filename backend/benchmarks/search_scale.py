"""Search at scale: lexical and hybrid retrieve p99 over 150,000 and 600,000 chunks of one user.

Targets: p99 at most 50 ms over 150,000 chunks and at most 100 ms over 600,000, for the talk
benchmark's fifty queries (benchmarks/talk.py), lexical and hybrid alike; and a search as the
application makes it, the question embedded by the default offline model (`embed_question`)
then hybrid `retrieve`, at p95 at most 100 ms over 150,000 passages (EMBEDDED_P95_TARGETS_MS).

Each corpus is the talk benchmark's (seeded English-like text, twenty topics, a second user's
100 transcripts of 150 chunks mixed in on disk) with 1,000 or 4,000 transcripts of 150 chunks for
the big user, one passage a chunk (about 100 words: `chunk_passages` keeps it whole), so
`--sizes 150000` is 150,000 passages of the big user; a synthetic vector per passage, stored
under the default offline provider's model name (`build_embedding_provider(Settings())`, the
one questions are embedded and searched with), and that model's HNSW index
(benchmarks/vector_corpus.py). Building the 600,000 takes about 9.5 minutes on two cores (7 of
them the HNSW index; the 150,000 about 1.5), so each corpus is kept in a database of its own
(CORPUS_DATABASE) on a server of its own (backend/.data/postgres-search-bench) and reused by
later runs; `--rebuild` builds them again. A corpus counts as built only once its
last step recorded its build times, only at the current migration head, and only with its
vectors under the provider's model.

That server runs with shared_buffers = SHARED_BUFFERS (set with ALTER SYSTEM before it starts):
a server that holds a 600,000-chunk library is given more than PostgreSQL's default 128 MB,
and a benchmark that reads every page from the kernel's cache measures the copy, not the search.
BENCH_DATABASE_URL, when set, names the server instead (its settings are then left alone).

The fifty queries are embedded once by the real model (apart from the timing), then go through
`retrieve(session, user, q, query_vector=..., mode=..., limit=10)`, a session each, one warm-up
pass and SEARCH_PASSES timed ones (benchmarks/vectors.py's `time_mode`, with each statement's
time by step). Then the same passes again as a search request makes them: `embed_question` (the
model's query vector and its background similarity) and hybrid `retrieve`, timed together and
apart. The corpus's vectors are synthetic: what is found means nothing, only the time counts.
Reported: p50/p95/p99/max by size and mode against its target, PASS/FAIL, the load average
around each measurement, where the hybrid time goes, the slowest queries, and
EXPLAIN (ANALYZE, BUFFERS) of every statement of the slowest lexical and hybrid query.

    cd backend && .venv/bin/python -m benchmarks.search_scale [--rebuild] [--sizes 150000,600000]
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
from alembic.script import ScriptDirectory
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import BACKEND_DIR, Settings
from app.db.embedded import start_embedded_postgres
from app.db.migrations import alembic_config
from app.db.repositories import PassageRepository
from app.services.embeddings.base import EmbeddingProvider
from app.services.embeddings.factory import build_embedding_provider
from app.services.retrieval import (
    CANDIDATES_PER_SIGNAL,
    WEBSEARCH_SYNTAX,
    SearchMode,
    embed_question,
    retrieve,
)
from benchmarks.harness import run_database_benchmark
from benchmarks.http_load import percentile_ms, report_console
from benchmarks.repositories import asyncpg_dsn, asyncpg_pool, migrate
from benchmarks.talk import (
    CHUNKS_PER_TRANSCRIPT,
    POOL_SIZE,
    Corpus,
    Plan,
    PlannedTranscript,
    Query,
    Sessions,
    application_engine,
    search_queries,
)
from benchmarks.vector_corpus import VectorSetup, prepare_vectors
from benchmarks.vectors import (
    NEAREST_STEP,
    QUERY_WORDS_STEP,
    SEARCH_LIMIT,
    SEARCH_PASSES,
    SEARCH_STEP,
    ModeTiming,
    QueryEmbeddings,
    SessionCall,
    StepTimer,
    embed_queries,
    explain_statements,
    hybrid_call,
    median_seconds,
    ms,
    percentiles,
    time_mode,
)
from tests.database import _run_on_server, with_database

# Chunks of the big user -> its p99 target in ms (both modes).
TARGETS_MS = {150_000: 50.0, 600_000: 100.0}
# Chunks (one passage each) of the big user -> p95 target in ms of embed_question + hybrid.
EMBEDDED_P95_TARGETS_MS = {150_000: 100.0}
CORPUS_VERSION = 3  # bump when the corpus's generation changes: older builds are rebuilt
SEARCH_SERVER_DIR = BACKEND_DIR / ".data" / "postgres-search-bench"
SHARED_BUFFERS = "2GB"
# The HNSW graph of 615,000 vectors takes about 1.3 GB: built in memory it takes minutes, not
# the tens of minutes of a build that spills.
BUILD_MAINTENANCE_WORK_MEM = "3GB"
MODES = (SearchMode.LEXICAL, SearchMode.HYBRID)
SLOWEST_SHOWN = 5
PLAN_LINE_CHARS = 200

BUILD_RECORD = "bench_corpus_build"
RECORD_BUILD = f"""
    CREATE TABLE {BUILD_RECORD} AS
    SELECT $1::int AS version, $2::text AS model, $3::float8 AS load_seconds,
           $4::float8 AS vacuum_seconds, $5::float8 AS vectors_seconds,
           $6::float8 AS hnsw_seconds, now() AS built_at
"""


# --- the server and the corpora --------------------------------------------------------------


CONFIGURE_SERVER = """
import asyncio, sys, asyncpg
from app.db.embedded import start_embedded_postgres
from benchmarks.repositories import asyncpg_dsn
async def configure(url):
    connection = await asyncpg.connect(asyncpg_dsn(url))
    await connection.execute(f"ALTER SYSTEM SET shared_buffers = '{sys.argv[2]}'")
    await connection.close()
asyncio.run(configure(start_embedded_postgres(__import__('pathlib').Path(sys.argv[1]))))
"""


def search_server_url(shared_buffers: str) -> str:
    """BENCH_DATABASE_URL's server as it is, else the benchmark's own embedded server with
    SHARED_BUFFERS: set by a process of its own, whose exit stops the server, so that the start
    below reads the new setting (when another process still holds the server, the setting
    shown in the report says so)."""
    configured = os.environ.get("BENCH_DATABASE_URL", "").strip()
    if configured:
        return configured
    subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-c", CONFIGURE_SERVER, str(SEARCH_SERVER_DIR), shared_buffers],
        cwd=BACKEND_DIR,
        check=True,
    )
    return start_embedded_postgres(SEARCH_SERVER_DIR)


def bench_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, db_pool_size=POOL_SIZE, db_max_overflow=0)


def corpus_database(chunks: int) -> str:
    return f"ytt_search_{chunks // 1000}k_v{CORPUS_VERSION}"


@dataclass
class BuiltCorpus:
    chunks: int
    database_url: str
    setup: VectorSetup
    reused: bool
    passages: int  # the big user's
    build_seconds: dict[str, float] = field(default_factory=dict)


async def is_built(database_url: str, model: str) -> dict[str, float] | None:
    """The recorded build times when this database holds a complete corpus at the migration
    head with its vectors under `model`; None otherwise."""
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    try:
        connection = await asyncpg.connect(asyncpg_dsn(database_url))
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        if await connection.fetchval("SELECT to_regclass($1)", BUILD_RECORD) is None:
            return None
        if await connection.fetchval("SELECT version_num FROM alembic_version") != head:
            return None
        row = await connection.fetchrow(f"SELECT * FROM {BUILD_RECORD}")  # noqa: S608
    finally:
        await connection.close()
    if row["version"] != CORPUS_VERSION or row["model"] != model:
        return None
    return {k: float(v) for k, v in row.items() if k.endswith("_seconds")}


async def stored_corpus(pool: asyncpg.Pool, model: str, dimension: int) -> VectorSetup:
    """The corpus a previous run built, read back from its transcripts."""
    rows = await pool.fetch(
        "SELECT id, user_id, youtube_video_id, title FROM transcripts ORDER BY youtube_video_id"
    )
    per_user: dict[uuid.UUID, int] = {}
    for row in rows:
        per_user[row["user_id"]] = per_user.get(row["user_id"], 0) + 1
    owner, other = sorted(per_user, key=per_user.__getitem__, reverse=True)
    transcripts = [
        PlannedTranscript(
            r["id"], r["user_id"], r["youtube_video_id"], r["title"].removeprefix("A talk about ")
        )
        for r in rows
    ]
    corpus = Corpus(owner, other, transcripts, chunks=len(rows) * CHUNKS_PER_TRANSCRIPT)
    setup = VectorSetup(corpus, model, dimension)
    sizes = await pool.fetchrow(
        "SELECT pg_size_pretty(pg_relation_size('chunks')) AS chunks, "
        "pg_size_pretty(pg_relation_size('passages')) AS passages, "
        "pg_size_pretty(pg_relation_size('passage_embeddings')) AS heap, "
        "pg_size_pretty(pg_indexes_size('passage_embeddings')) AS hnsw"
    )
    setup.sizes = {key: str(value) for key, value in sizes.items()}
    return setup


async def build_corpus(server: str, chunks: int, provider: EmbeddingProvider) -> dict[str, float]:
    """Create the corpus's database from scratch; returns its build times."""
    name = corpus_database(chunks)
    database_url = with_database(server, name)
    await _run_on_server(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _run_on_server(server, f'CREATE DATABASE "{name}"')
    await asyncio.to_thread(migrate, database_url, "head")
    settings = bench_settings(database_url)
    async with application_engine(settings) as engine, asyncpg_pool(database_url) as pool:
        setup = await prepare_vectors(
            engine, pool, database_url, settings, provider,
            owner_transcripts=chunks // CHUNKS_PER_TRANSCRIPT,
            maintenance_work_mem=BUILD_MAINTENANCE_WORK_MEM,
        )  # fmt: skip
        corpus = setup.corpus
        times = {
            "load_seconds": corpus.load_seconds,
            "vacuum_seconds": corpus.vacuum_seconds,
            "vectors_seconds": setup.sample_seconds + setup.copy_seconds,
            "hnsw_seconds": setup.build_seconds + setup.analyze_seconds,
        }
        await pool.execute(RECORD_BUILD, CORPUS_VERSION, provider.model_name, *times.values())
    return times


async def ready_corpus(
    server: str, chunks: int, provider: EmbeddingProvider, rebuild: bool
) -> BuiltCorpus:
    database_url = with_database(server, corpus_database(chunks))
    times = None if rebuild else await is_built(database_url, provider.model_name)
    reused = times is not None
    if times is None:
        times = await build_corpus(server, chunks, provider)
    async with asyncpg_pool(database_url) as pool:
        setup = await stored_corpus(pool, provider.model_name, provider.dimension)
        passages = await pool.fetchval(
            "SELECT count(*) FROM passages WHERE user_id = $1", setup.corpus.owner
        )
    return BuiltCorpus(chunks, database_url, setup, reused, passages, times)


# --- measuring -------------------------------------------------------------------------------


@dataclass
class EmbeddedTiming:
    """Searches as a request makes them: `embed_question`, then hybrid `retrieve`."""

    embedding: list[float] = field(default_factory=list)
    retrieval: list[float] = field(default_factory=list)
    loads: tuple[float, float] = (0.0, 0.0)  # load average before and after the passes

    @property
    def total(self) -> list[float]:
        return [e + r for e, r in zip(self.embedding, self.retrieval, strict=True)]


@dataclass
class SizeResults:
    corpus: BuiltCorpus
    modes: list[ModeTiming]
    loads: dict[SearchMode, tuple[float, float]]  # load average before and after each mode
    embedded: EmbeddedTiming
    plans: dict[SearchMode, tuple[str, list[Plan]]]
    shared_buffers: str


def lexical_call(user_id: uuid.UUID, question: str) -> SessionCall:
    def call(session: AsyncSession) -> object:
        strict = bool(WEBSEARCH_SYNTAX.search(question))
        return PassageRepository(session).search(
            user_id, question, limit=CANDIDATES_PER_SIGNAL, match="all" if strict else "any"
        )

    return call  # type: ignore[return-value]


async def time_embedded(
    sessions: Sessions,
    provider: EmbeddingProvider,
    user_id: uuid.UUID,
    queries: Sequence[Query],
    allowed: set[uuid.UUID],
) -> EmbeddedTiming:
    """One warm-up pass (it also embeds the background sentences, once per process), then
    SEARCH_PASSES timed ones: each query embedded by the provider, then searched, a session
    each. Raises when a hit belongs to another user's transcript."""
    timing = EmbeddedTiming()
    before = os.getloadavg()[0]
    for timed in (False, *([True] * SEARCH_PASSES)):
        for query in queries:
            async with sessions() as session:
                started = time.perf_counter()
                vector = await embed_question(provider, query.text)
                embedded = time.perf_counter()
                if vector is None:
                    raise RuntimeError(f"{query.text!r} was not embedded")
                retrieval = await retrieve(
                    session, user_id, query.text, query_vector=vector, mode=SearchMode.HYBRID,
                    limit=SEARCH_LIMIT,
                )  # fmt: skip
                finished = time.perf_counter()
            if any(r.hit.transcript_id not in allowed for r in retrieval.hits):
                raise RuntimeError(f"{query.text!r} found other users' passages")
            if timed:
                timing.embedding.append(embedded - started)
                timing.retrieval.append(finished - embedded)
    timing.loads = (before, os.getloadavg()[0])
    return timing


async def measure_size(
    built: BuiltCorpus,
    queries: Sequence[Query],
    embedded: QueryEmbeddings,
    provider: EmbeddingProvider,
) -> SizeResults:
    settings = bench_settings(built.database_url)
    corpus = built.setup.corpus
    allowed = corpus.transcript_ids(corpus.owner)
    timer = StepTimer()
    modes, loads, plans = [], {}, {}
    async with application_engine(settings) as engine, asyncpg_pool(built.database_url) as pool:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        with timer.listening(engine):
            for mode in MODES:
                before = os.getloadavg()[0]
                timing = ModeTiming(f"{built.chunks:,}", mode)
                modes.append(
                    await time_mode(
                        sessions, timer, timing, corpus.owner, queries, embedded.vectors, allowed
                    )
                )
                loads[mode] = (before, os.getloadavg()[0])
        with_embedding = await time_embedded(sessions, provider, corpus.owner, queries, allowed)
        for timing in modes:
            slowest = timing.slowest(1)[0][0].query.text
            call = (
                lexical_call(corpus.owner, slowest)
                if timing.mode is SearchMode.LEXICAL
                else hybrid_call(corpus.owner, slowest, embedded.vectors[slowest])
            )
            plans[timing.mode] = (slowest, await explain_statements(engine, sessions, pool, call))
        shared_buffers = await pool.fetchval("SHOW shared_buffers")
    return SizeResults(built, modes, loads, with_embedding, plans, shared_buffers)


# --- report ----------------------------------------------------------------------------------


def corpus_table(results: Sequence[SizeResults]) -> Table:
    table = Table(title="1. The corpora (kept between runs)")
    for header in ("big user's chunks", "its passages", "database", "built", "load s", "VACUUM s",
                   "vectors s", "HNSW s", "chunks heap", "vectors heap", "vector indexes",
                   "shared_buffers"):  # fmt: skip
        table.add_column(header, justify="right")
    for result in results:
        built = result.corpus
        times = built.build_seconds
        table.add_row(
            f"{built.chunks:,}", f"{built.passages:,}", corpus_database(built.chunks),
            "reused" if built.reused else "this run",
            *(f"{times.get(k, 0):.0f}" for k in
              ("load_seconds", "vacuum_seconds", "vectors_seconds", "hnsw_seconds")),
            built.setup.sizes["chunks"], built.setup.sizes["heap"], built.setup.sizes["hnsw"],
            result.shared_buffers,
        )  # fmt: skip
    return table


def latency_table(results: Sequence[SizeResults]) -> Table:
    table = Table(
        title=(
            f"2. retrieve(limit={SEARCH_LIMIT}) latency of the big user, 50 queries x "
            f"{SEARCH_PASSES} passes after a warm-up"
        ),
        caption="load: the 1-minute load average before / after the mode's passes (2 cores).",
    )
    headers = ("chunks", "mode", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms", "target",
               "", "load")  # fmt: skip
    for header in headers:
        table.add_column(header, justify="left" if header in ("mode", "target", "") else "right")
    for result in results:
        target = TARGETS_MS[result.corpus.chunks]
        for timing in result.modes:
            p99 = percentile_ms(timing.seconds, 0.99)
            before, after = result.loads[timing.mode]
            table.add_row(
                f"{result.corpus.chunks:,}", timing.mode.value, str(len(timing.seconds)),
                *percentiles(timing.seconds), f"p99 <= {target:.0f} ms",
                "PASS" if p99 <= target else "FAIL", f"{before:.1f} / {after:.1f}",
            )  # fmt: skip
    return table


def verdict_p95(seconds: Sequence[float], target_ms: float | None) -> str:
    if target_ms is None:
        return ""
    return "PASS" if percentile_ms(seconds, 0.95) <= target_ms else "FAIL"


def embedded_table(results: Sequence[SizeResults], model: str) -> Table:
    table = Table(
        title=(
            "2b. A search as a request makes it: embed_question, then hybrid retrieve "
            f"(limit={SEARCH_LIMIT}), 50 queries x {SEARCH_PASSES} passes after a warm-up"
        ),
        caption=(
            f"The question embedded by the default offline provider, {model} (the corpus's "
            "vectors are synthetic under its name: only the time means something). load: the "
            "1-minute load average before / after the passes (2 cores)."
        ),
    )
    headers = ("passages", "step", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms", "target",
               "", "load")  # fmt: skip
    for header in headers:
        table.add_column(header, justify="left" if header in ("step", "target", "") else "right")
    for result in results:
        timing = result.embedded
        target = EMBEDDED_P95_TARGETS_MS.get(result.corpus.chunks)
        before, after = timing.loads
        rows = (
            ("embed_question", timing.embedding, None),
            ("hybrid retrieve", timing.retrieval, None),
            ("both: the search", timing.total, target),
        )
        for label, seconds, limit in rows:
            verdict = verdict_p95(seconds, limit)
            table.add_row(
                f"{result.corpus.passages:,}", label, str(len(seconds)), *percentiles(seconds),
                f"p95 <= {limit:.0f} ms" if limit is not None else "", verdict,
                f"{before:.1f} / {after:.1f}",
            )  # fmt: skip
    return table


def steps_table(results: Sequence[SizeResults]) -> Table:
    table = Table(title="3. Each signal's statement inside the timed calls")
    for header in ("chunks", "mode", "step", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(header, justify="left" if header in ("mode", "step") else "right")
    for result in results:
        for timing in result.modes:
            for step in (QUERY_WORDS_STEP, SEARCH_STEP, NEAREST_STEP):
                seconds = timing.step_seconds(step)
                if any(seconds):
                    table.add_row(
                        f"{result.corpus.chunks:,}", timing.mode.value, step,
                        *percentiles(seconds),
                    )  # fmt: skip
    return table


def slowest_table(results: Sequence[SizeResults]) -> Table:
    table = Table(title=f"4. The {SLOWEST_SHOWN} slowest queries (medians of their passes)")
    for header in ("chunks", "mode", "query", "kind", "ms", "full-text ms"):
        table.add_column(header, justify="right" if "ms" in header else "left")
    for result in results:
        for timing in result.modes:
            for samples in timing.slowest(SLOWEST_SHOWN):
                query = samples[0].query
                table.add_row(
                    f"{result.corpus.chunks:,}", timing.mode.value, query.text, query.kind,
                    ms(median_seconds(samples)), ms(median_seconds(samples, SEARCH_STEP)),
                )  # fmt: skip
    return table


def print_plans(results: Sequence[SizeResults]) -> None:
    console = report_console()
    for result in results:
        for mode, (question, plans) in result.plans.items():
            console.print(
                f"5. {result.corpus.chunks:,} chunks, slowest {mode.value} query {question!r}: "
                "EXPLAIN (ANALYZE, BUFFERS) of each statement",
                markup=False, highlight=False,
            )  # fmt: skip
            for plan in plans:
                console.print(f"  -- {plan.reading}", markup=False, highlight=False)
                for line in plan.lines:
                    # The query vector's 384 numbers say nothing here.
                    shown = line if len(line) <= PLAN_LINE_CHARS else line[:PLAN_LINE_CHARS] + "…"
                    console.print(f"  {shown}", markup=False, highlight=False)


# --- entry point -----------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="build the corpora again")
    parser.add_argument(
        "--sizes",
        default=",".join(str(size) for size in TARGETS_MS),
        help="the big user's chunk counts, comma-separated (of: %(default)s)",
    )
    parser.add_argument("--plans", action="store_true", help="print the EXPLAIN plans in full")
    parser.add_argument(
        "--shared-buffers",
        default=SHARED_BUFFERS,
        help="the embedded server's shared_buffers (default: %(default)s)",
    )
    return parser.parse_args()


async def benchmark() -> None:
    options = arguments()
    sizes = [int(size) for size in options.sizes.split(",")]
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    server = search_server_url(options.shared_buffers)
    provider = build_embedding_provider(Settings())
    results = []
    try:
        queries = search_queries()
        embedded = await embed_queries(provider, queries)
        for size in sizes:
            built = await ready_corpus(server, size, provider, options.rebuild)
            results.append(await measure_size(built, queries, embedded, provider))
    finally:
        await provider.aclose()
    console = report_console()
    console.print(corpus_table(results))
    console.print(latency_table(results))
    console.print(embedded_table(results, provider.model_name))
    console.print(steps_table(results))
    console.print(slowest_table(results))
    if options.plans:
        print_plans(results)
    for result in results:
        target = EMBEDDED_P95_TARGETS_MS.get(result.corpus.chunks)
        if target is not None:
            total = result.embedded.total
            console.print(
                f"Target: search p95 <= {target:.0f} ms including the query embedding at "
                f"{result.corpus.passages:,} passages of one user: p95 "
                f"{percentile_ms(total, 0.95):.1f} ms, {verdict_p95(total, target)}",
                markup=False,
            )
    console.print(
        f"{os.cpu_count()} cores; load average {load_before:.2f} before the run and "
        f"{os.getloadavg()[0]:.2f} at the end. Took {time.perf_counter() - started:.0f} s.",
        markup=False,
    )


def main() -> None:
    run_database_benchmark(benchmark)


if __name__ == "__main__":
    main()
