"""Hybrid search over 150,000 chunks of one user: latency by mode, and where the time goes.

The talk benchmark's corpus (benchmarks/talk.py: 1,000 transcripts of 150 chunks for one user,
100 for a second, mixed on disk; one passage a chunk) with a synthetic vector per passage and
the offline model's HNSW index (benchmarks/vector_corpus.py). The fifty queries of the talk
benchmark are embedded by the real model (timed apart: a search pays it before retrieve), then
go through `retrieve(session, user, q, query_vector=..., mode=..., limit=10)`, a session each,
one warm-up pass and SEARCH_PASSES timed ones: lexical, hybrid and semantic for the big user,
hybrid for the second. Reported:

- p50/p95/p99 by mode, the big user's hybrid p99 against its target (under 50 ms);
- each SQL statement's time inside the hybrid calls (full-text search, nearest, and the two
  look-ups that give every candidate both signals), and `PassageRepository.search` and
  `PassageEmbeddingRepository.nearest` timed alone, a session each;
- the slowest hybrid queries, with how many passages their full-text reading matched;
- EXPLAIN (ANALYZE) of the nearest search for both users (which index the plan walks), and of
  every statement of the slowest hybrid query, with its buffers.

The database is created on the server BENCH_DATABASE_URL or TEST_DATABASE_URL names, else on an
embedded PostgreSQL in backend/.data/postgres-bench, migrated to head and dropped at the end.
Takes about two minutes on two busy cores, a minute of it loading and indexing:

    cd backend && .venv/bin/python -m benchmarks.vectors
"""

import os
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from rich.console import Console
from rich.table import Table
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.db.repositories import PassageEmbeddingRepository, PassageRepository
from app.db.vector_index import vector_index_name
from app.services.embeddings.base import EmbeddingProvider
from app.services.embeddings.offline import DIMENSION, OfflineEmbeddings
from app.services.retrieval import (
    CANDIDATES_PER_SIGNAL,
    WEBSEARCH_SYNTAX,  # the test retrieve makes: quotes, -words and "or" read strictly
    QueryVector,
    SearchMode,
    retrieve,
)
from benchmarks.harness import run_database_benchmark
from benchmarks.http_load import percentile_ms, report_console
from benchmarks.repositories import asyncpg_pool, server_url, throwaway_database
from benchmarks.talk import (
    CHUNKS_PER_TRANSCRIPT,
    COUNT_MATCHES,
    MATCH_ALL,
    MATCH_ANY,
    POOL_SIZE,
    Plan,
    Query,
    Sessions,
    application_engine,
    search_queries,
    statements_sent,
)
from benchmarks.vector_corpus import (
    BUILD_MAINTENANCE_WORK_MEM,
    NOISE_NORM,
    VectorSetup,
    prepare_vectors,
)

SEARCH_LIMIT = 10
SEARCH_PASSES = 4  # timed, after one warm-up pass: 200 samples a mode
HYBRID_P99_TARGET_MS = 50.0
SLOWEST_SHOWN = 5


# --- timing retrieve, step by step -----------------------------------------------------------

SEARCH_STEP = "search (full-text)"
NEAREST_STEP = "nearest (HNSW)"
QUERY_WORDS_STEP = "query_words (lexemes, their frequencies)"
# Which call of retrieve a statement belongs to: the first label whose marker it contains.
RETRIEVAL_STEPS = (
    ("set_config (HNSW settings)", "hnsw.iterative_scan"),
    (NEAREST_STEP, "WITH nearest AS MATERIALIZED"),
    ("similarities (lexical hits' vectors)", "FROM passage_embeddings"),
    ("lexical_evidence (vector hits' words)", "p.id = ANY("),
    (SEARCH_STEP, "ts_headline"),
    (QUERY_WORDS_STEP, "tsvector_to_array"),
    (QUERY_WORDS_STEP, ") AS matching)"),
    (QUERY_WORDS_STEP, "plan_cache_mode"),
)
OTHER_STEP = "other statements"
REST_STEP = "rest: checkout, ping, BEGIN, Python"


def retrieval_step(statement: str) -> str:
    return next((label for label, marker in RETRIEVAL_STEPS if marker in statement), OTHER_STEP)


class StepTimer:
    """Wall time of each statement sent while recording, by retrieval step (round trips
    included)."""

    def __init__(self) -> None:
        self.steps: dict[str, float] | None = None

    def before(self, conn: Connection, *_: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(self, conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
        seconds = time.perf_counter() - conn.info["bench_started"].pop()
        if self.steps is not None:
            self.steps[retrieval_step(statement)] += seconds

    @contextmanager
    def listening(self, engine: AsyncEngine) -> Iterator["StepTimer"]:
        event.listen(engine.sync_engine, "before_cursor_execute", self.before)
        event.listen(engine.sync_engine, "after_cursor_execute", self.after)
        try:
            yield self
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", self.before)
            event.remove(engine.sync_engine, "after_cursor_execute", self.after)

    @contextmanager
    def recording(self) -> Iterator[dict[str, float]]:
        self.steps = defaultdict(float)
        try:
            yield self.steps
        finally:
            self.steps = None


@dataclass(frozen=True)
class Sample:
    """One timed retrieve call, with its statements' time by step."""

    query: Query
    seconds: float
    steps: dict[str, float]

    def step(self, name: str) -> float:
        if name == REST_STEP:
            return self.seconds - sum(self.steps.values())
        return self.steps.get(name, 0.0)


@dataclass
class ModeTiming:
    label: str
    mode: SearchMode
    samples: list[Sample] = field(default_factory=list)

    @property
    def seconds(self) -> list[float]:
        return [sample.seconds for sample in self.samples]

    def step_seconds(self, step: str) -> list[float]:
        return [sample.step(step) for sample in self.samples]

    def slowest(self, count: int) -> list[list[Sample]]:
        """The `count` queries with the highest median time, slowest first: their samples."""
        by_query: dict[str, list[Sample]] = defaultdict(list)
        for sample in self.samples:
            by_query[sample.query.text].append(sample)
        ranked = sorted(by_query.values(), key=median_seconds, reverse=True)
        return ranked[:count]


def median_seconds(samples: Sequence[Sample], step: str | None = None) -> float:
    return statistics.median(s.seconds if step is None else s.step(step) for s in samples)


async def time_mode(
    sessions: Sessions,
    timer: StepTimer,
    timing: ModeTiming,
    user_id: uuid.UUID,
    queries: Sequence[Query],
    vectors: dict[str, QueryVector],
    allowed: set[uuid.UUID],
) -> ModeTiming:
    """One warm-up pass, then SEARCH_PASSES timed ones, a session per query. Raises when a hit
    belongs to another user's transcript."""
    for timed in (False, *([True] * SEARCH_PASSES)):
        for query in queries:
            vector = None if timing.mode is SearchMode.LEXICAL else vectors[query.text]
            async with sessions() as session:
                with timer.recording() as steps:
                    started = time.perf_counter()
                    retrieval = await retrieve(
                        session,
                        user_id,
                        query.text,
                        query_vector=vector,
                        mode=timing.mode,
                        limit=SEARCH_LIMIT,
                    )
                    elapsed = time.perf_counter() - started
            foreign = [
                r.hit.transcript_id for r in retrieval.hits if r.hit.transcript_id not in allowed
            ]
            if foreign:
                raise RuntimeError(f"{query.text!r} found other users' chunks: {foreign}")
            if timed:
                timing.samples.append(Sample(query, elapsed, dict(steps)))
    return timing


async def time_alone(
    sessions: Sessions,
    user_id: uuid.UUID,
    queries: Sequence[Query],
    vectors: dict[str, QueryVector],
) -> dict[str, list[float]]:
    """Each signal's repository call as retrieve makes it, alone in a session of its own."""
    alone: dict[str, list[float]] = defaultdict(list)
    for timed in (False, *([True] * SEARCH_PASSES)):
        for query in queries:
            strict = bool(WEBSEARCH_SYNTAX.search(query.text))
            async with sessions() as session:
                started = time.perf_counter()
                await PassageRepository(session).search(
                    user_id,
                    query.text,
                    limit=CANDIDATES_PER_SIGNAL,
                    match="all" if strict else "any",
                )
                searched = time.perf_counter() - started
            vector = vectors[query.text]
            async with sessions() as session:
                started = time.perf_counter()
                await PassageEmbeddingRepository(session).nearest(
                    user_id, vector.vector, vector.model_name, limit=CANDIDATES_PER_SIGNAL
                )
                nearest = time.perf_counter() - started
            if timed:
                alone["PassageRepository.search alone"].append(searched)
                alone["PassageEmbeddingRepository.nearest alone"].append(nearest)
    return alone


@dataclass
class QueryEmbeddings:
    vectors: dict[str, QueryVector]
    seconds: list[float]


async def embed_queries(provider: EmbeddingProvider, queries: Sequence[Query]) -> QueryEmbeddings:
    vectors, seconds = {}, []
    for query in queries:
        started = time.perf_counter()
        vector = await provider.embed_query(query.text)
        seconds.append(time.perf_counter() - started)
        vectors[query.text] = QueryVector(provider.model_name, vector)
    return QueryEmbeddings(vectors, seconds)


SessionCall = Callable[[AsyncSession], Awaitable[object]]


async def explain_statements(
    engine: AsyncEngine, sessions: Sessions, pool: asyncpg.Pool, call: SessionCall
) -> list[Plan]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement `call(session)` sends, replayed with its
    parameters in one transaction on a plain connection (so SET LOCAL settings apply)."""
    with statements_sent(engine, "") as sent:
        async with sessions() as session:
            await call(session)
    plans = []
    async with pool.acquire() as connection, connection.transaction():
        for statement, parameters in sent:
            if statement.lstrip().upper().startswith("SELECT SET_CONFIG"):
                await connection.fetch(statement, *parameters)
                continue
            rows = await connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *parameters)
            plans.append(Plan(retrieval_step(statement), [row[0] for row in rows]))
    return plans


def nearest_call(user_id: uuid.UUID, vector: QueryVector) -> SessionCall:
    def call(session: AsyncSession) -> Awaitable[object]:
        return PassageEmbeddingRepository(session).nearest(
            user_id, vector.vector, vector.model_name, limit=CANDIDATES_PER_SIGNAL
        )

    return call


@dataclass
class SearchResults:
    setup: VectorSetup
    query_embeddings: QueryEmbeddings
    modes: list[ModeTiming]
    alone: dict[str, list[float]]
    nearest_plans: dict[str, list[Plan]]
    slowest_plans: list[Plan]
    matched: dict[str, int]  # by query: the big user's passages its full-text reading matches

    @property
    def hybrid(self) -> ModeTiming:
        return next(m for m in self.modes if m.mode is SearchMode.HYBRID)


async def measure_search(
    engine: AsyncEngine,
    sessions: Sessions,
    pool: asyncpg.Pool,
    setup: VectorSetup,
    provider: OfflineEmbeddings,
) -> SearchResults:
    corpus, queries = setup.corpus, search_queries()
    embedded = await embed_queries(provider, queries)
    timer = StepTimer()
    owner, other = corpus.transcript_ids(corpus.owner), corpus.transcript_ids(corpus.other)
    runs = (
        ("big user", SearchMode.LEXICAL, corpus.owner, owner),
        ("big user", SearchMode.HYBRID, corpus.owner, owner),
        ("big user", SearchMode.SEMANTIC, corpus.owner, owner),
        ("second user", SearchMode.HYBRID, corpus.other, other),
    )
    modes = []
    with timer.listening(engine):
        for label, mode, user_id, allowed in runs:
            timing = ModeTiming(label, mode)
            modes.append(
                await time_mode(
                    sessions, timer, timing, user_id, queries, embedded.vectors, allowed
                )
            )
    alone = await time_alone(sessions, corpus.owner, queries, embedded.vectors)
    question = embedded.vectors[next(q.text for q in queries if q.kind == "question")]
    nearest_plans = {
        label: await explain_statements(engine, sessions, pool, nearest_call(user_id, question))
        for label, user_id in (("big user", corpus.owner), ("second user", corpus.other))
    }
    hybrid = next(m for m in modes if m.mode is SearchMode.HYBRID)
    slowest = [samples[0].query.text for samples in hybrid.slowest(SLOWEST_SHOWN)]
    slowest_plans = await explain_statements(
        engine, sessions, pool, hybrid_call(corpus.owner, slowest[0], embedded.vectors[slowest[0]])
    )
    matched = {text: await count_matched(pool, corpus.owner, text) for text in slowest}
    return SearchResults(setup, embedded, modes, alone, nearest_plans, slowest_plans, matched)


def hybrid_call(user_id: uuid.UUID, question: str, vector: QueryVector) -> SessionCall:
    def call(session: AsyncSession) -> Awaitable[object]:
        return retrieve(
            session, user_id, question, query_vector=vector, mode=SearchMode.HYBRID,
            limit=SEARCH_LIMIT,
        )  # fmt: skip

    return call


async def count_matched(pool: asyncpg.Pool, user_id: uuid.UUID, question: str) -> int:
    """How many of the user's passages the full-text reading retrieve uses matches."""
    tsquery = MATCH_ALL if WEBSEARCH_SYNTAX.search(question) else MATCH_ANY
    matched: int = await pool.fetchval(COUNT_MATCHES.format(tsquery=tsquery), user_id, question)
    return matched


# --- report ----------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def percentiles(seconds: Sequence[float]) -> list[str]:
    return [f"{percentile_ms(seconds, q):.1f}" for q in (0.5, 0.95, 0.99)] + [ms(max(seconds))]


def setup_table(results: SearchResults) -> Table:
    setup, corpus = results.setup, results.setup.corpus
    owned = len(corpus.transcript_ids(corpus.owner)) * CHUNKS_PER_TRANSCRIPT
    table = Table(
        title="1. The corpus and its vectors",
        caption=(
            f"Synthetic vectors: {setup.sample_chunks} passages embedded for real "
            f"({setup.sample_seconds:.1f} s), each passage a random one of its topic's plus noise "
            f"(norm {NOISE_NORM}), unit length. Index built by ensure_vector_index with "
            f"maintenance_work_mem {BUILD_MAINTENANCE_WORK_MEM} (the server's default 64 MB: "
            "~5x slower, the graph spills to disk)."
        ),
    )
    rows = (
        (
            "chunks (big user + second user)",
            f"{corpus.chunks:,} ({owned:,} + {corpus.chunks - owned:,})",
        ),
        ("chunks load (COPY, talk.py) s", f"{corpus.load_seconds:.1f}"),
        ("passages", f"{corpus.passages:,}"),
        ("chunks heap", setup.sizes["chunks"]),
        ("passages heap", setup.sizes["passages"]),
        ("vectors (384 dims, one a passage)", f"{int(setup.sizes['vectors']):,}"),
        ("vectors COPY s", f"{setup.copy_seconds:.1f}"),
        ("passage_embeddings heap", setup.sizes["heap"]),
        ("HNSW build (ensure_vector_index) s", f"{setup.build_seconds:.1f}"),
        ("HNSW index size", setup.sizes["hnsw"]),
        ("ANALYZE passage_embeddings s", f"{setup.analyze_seconds:.1f}"),
        ("shared_buffers (the server's)", setup.sizes["shared_buffers"]),
        (
            "query embedding (real model, apart from retrieve) p50 / p99 ms",
            f"{percentile_ms(results.query_embeddings.seconds, 0.5):.1f} / "
            f"{percentile_ms(results.query_embeddings.seconds, 0.99):.1f}",
        ),
    )
    table.add_column("")
    table.add_column("", justify="right")
    for label, value in rows:
        table.add_row(label, value)
    return table


def latency_table(results: SearchResults) -> Table:
    table = Table(
        title=f"2. retrieve(limit={SEARCH_LIMIT}) latency, 50 queries x {SEARCH_PASSES} passes",
        caption=(
            "A session per query, after a warm-up pass; the query's vector is computed "
            "beforehand. Strict queries (quotes, -word, or) use no vectors in hybrid. Every hit "
            "was checked to be the searching user's own."
        ),
    )
    headers = ("user", "mode", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms", "target", "")
    for header in headers:
        table.add_column(
            header, justify="left" if header in ("user", "mode", "target") else "right"
        )
    for timing in results.modes:
        target, verdict = "", ""
        if timing.mode is SearchMode.HYBRID and timing.label == "big user":
            p99 = percentile_ms(timing.seconds, 0.99)
            target = f"p99 < {HYBRID_P99_TARGET_MS:.0f} ms"
            verdict = "PASS" if p99 < HYBRID_P99_TARGET_MS else "FAIL"
        table.add_row(
            timing.label, timing.mode.value, str(len(timing.seconds)),
            *percentiles(timing.seconds), target, verdict,
        )  # fmt: skip
    return table


def steps_table(results: SearchResults) -> Table:
    hybrid = results.hybrid
    table = Table(
        title="3. Where hybrid retrieve's time goes (big user), and each signal alone",
        caption=(
            "Each statement's wall time inside the timed hybrid calls (round trip included), "
            "per call; 'rest' is the call minus its statements. Percentiles of each row apart: "
            "they do not add up. The two last rows: the repository call alone, a session each."
        ),
    )
    for header in ("step", "p50 ms", "p95 ms", "p99 ms", "max ms", "mean ms"):
        table.add_column(header, justify="left" if header == "step" else "right")
    steps = [*dict.fromkeys(label for label, _ in RETRIEVAL_STEPS), OTHER_STEP, REST_STEP]
    rows = [(step, hybrid.step_seconds(step)) for step in steps]
    rows = [(step, seconds) for step, seconds in rows if any(seconds)]
    rows += list(results.alone.items())
    for label, seconds in rows:
        table.add_row(label, *percentiles(seconds), ms(statistics.fmean(seconds)))
    return table


def print_plans(console: Console, results: SearchResults) -> None:
    hnsw = vector_index_name(results.setup.model, DIMENSION)
    for label, plans in results.nearest_plans.items():
        for plan in plans:
            if plan.reading != NEAREST_STEP:
                continue
            used = "the HNSW index" if hnsw in plan.indexes else "NOT the HNSW index"
            console.print(
                f"5. EXPLAIN ANALYZE of nearest, {label}: walks {used}; indexes: "
                f"{', '.join(plan.indexes)}; {plan.execution}",
                markup=False, highlight=False,
            )  # fmt: skip
    slowest = results.hybrid.slowest(1)[0][0].query.text
    console.print(
        f"6. The slowest hybrid query, {slowest!r}: each statement retrieve sent, EXPLAIN "
        "(ANALYZE, BUFFERS) in one transaction, after the timed passes:",
        markup=False, highlight=False,
    )  # fmt: skip
    for plan in results.slowest_plans:
        buffers = next((line.strip() for line in plan.lines if "Buffers:" in line), "")
        console.print(
            f"  {plan.reading}: {plan.execution}; indexes: {', '.join(plan.indexes) or 'none'}; "
            f"{buffers}",
            markup=False, highlight=False,
        )  # fmt: skip


def slowest_table(results: SearchResults) -> Table:
    table = Table(
        title=f"4. The {SLOWEST_SHOWN} slowest hybrid queries (big user; medians of their passes)",
        caption=(
            "matched: the big user's passages that the full-text reading retrieve uses (any of the "
            "words; all of them for quotes, -word, or) matches: each is read from the heap and "
            "ranked before the best 30 are kept."
        ),
    )
    headers = ("query", "kind", "matched", "hybrid ms", "search ms", "nearest ms", "rest ms")
    for header in headers:
        table.add_column(header, justify="left" if header in ("query", "kind") else "right")
    for samples in results.hybrid.slowest(SLOWEST_SHOWN):
        query = samples[0].query
        search, nearest = (
            median_seconds(samples, SEARCH_STEP),
            median_seconds(samples, NEAREST_STEP),
        )
        table.add_row(
            query.text, query.kind, f"{results.matched[query.text]:,}",
            ms(median_seconds(samples)), ms(search), ms(nearest),
            ms(median_seconds(samples) - search - nearest),
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
            async with application_engine(settings) as engine, asyncpg_pool(database_url) as pool:
                sessions = async_sessionmaker(engine, expire_on_commit=False)
                setup = await prepare_vectors(engine, pool, database_url, settings, provider)
                search = await measure_search(engine, sessions, pool, setup, provider)
    finally:
        await provider.aclose()
    console = report_console()
    console.print(setup_table(search))
    console.print(latency_table(search))
    console.print(steps_table(search))
    console.print(slowest_table(search))
    print_plans(console, search)
    console.print(
        f"{os.cpu_count()} cores; load average {load_before:.2f} before the run and "
        f"{os.getloadavg()[0]:.2f} at the end (other work on the machine skews every figure). "
        f"Took {time.perf_counter() - started:.0f} s.",
        markup=False,
    )


def main() -> None:
    run_database_benchmark(benchmark)


if __name__ == "__main__":
    main()
