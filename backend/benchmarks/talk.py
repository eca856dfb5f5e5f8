"""What talking to your videos costs: ingestion, search, a chat round trip, and hit@5.

1. A 3-hour video ingested three times (harness/ingestion.py), with where the time goes: fetch
   and parse, chunking (700 tokens, 20 % overlap by default), SQL by table, commits, the rest,
   and the garbage collector's pauses within.
2. Search over the corpus of harness/corpus.py (165,000 chunks, two users): the fifty queries
   through `retrieve(session, user, q, limit=10)`, a session each, one warm-up pass and three
   timed, for both users; p50/p95/p99/max, by kind of query, the slowest queries with how many
   passages they matched, EXPLAIN (ANALYZE, BUFFERS) of the slowest with the exact SQL retrieve
   sent, and its matching and ranking (ts_rank, ts_rank_cd) timed apart.
3. An offline chat round trip (harness/chat_round_trip.py): the labelled talks
   (testkit/labelled_set.py) stored for a third user, then 50 questions into one conversation,
   each a unit of work (load the conversation, `start_turn`, `answer` with
   `OfflineExtractiveModel`, commit), step by step.
4. hit@5 of `retrieve(..., limit=5)` on the labelled set, against its floor.

About 30 s on two idle cores, half of it loading the 165,000 chunks:

    cd backend && .venv/bin/python -m benchmarks.talk
"""

import statistics
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.services.retrieval import retrieve
from benchmarks.harness import database as db
from benchmarks.harness import ingestion, report, search
from benchmarks.harness.chat_round_trip import chat_table, measure_chat
from benchmarks.harness.corpus import Corpus, load_corpus
from benchmarks.harness.machine import Clock
from benchmarks.harness.runner import run_benchmark
from benchmarks.harness.search import SEARCH_LIMIT, Query
from benchmarks.harness.timing import median, timed
from testkit.labelled_set import CHUNK_TOKENS, HIT_AT_5_FLOOR, QUESTIONS, TALKS

PASSES = 3  # timed, after one warm-up pass
SLOWEST_SHOWN = 5
LABELLED_OVERLAP = 0.2  # the talks are chunked as tests/api/test_search.py chunks them

# The slowest query's SQL without retrieve's extras (headlines, coverage, the join), to tell
# finding the matches from ranking them.
RANKING_STEPS = (
    ("find the matches only: count(*)", "SELECT count(*) FROM passages p, q WHERE {match}"),
    (
        "find them, rank by ts_rank (as retrieve does), keep 10",
        "SELECT p.id FROM passages p, q WHERE {match} "
        "ORDER BY ts_rank(p.search_vector, q.tsq) DESC LIMIT 10",
    ),
    (
        "find them, rank by ts_rank_cd (cover density), keep 10",
        "SELECT p.id FROM passages p, q WHERE {match} "
        "ORDER BY ts_rank_cd(p.search_vector, q.tsq) DESC LIMIT 10",
    ),
)
USERS_MATCHES = "p.user_id = $1 AND p.search_vector @@ q.tsq"


# --- 2. search -------------------------------------------------------------------------------


@dataclass
class QueryTiming:
    query: Query
    seconds: list[float] = field(default_factory=list)
    hits: int = 0
    matched: int = 0
    mode: str = ""  # the reading retrieve used: "all" words, or "any" when none had them all

    @property
    def median_ms(self) -> float:
        return median(self.seconds) * 1000


async def time_queries(
    sessions: db.Sessions, user_id: uuid.UUID, queries: Sequence[Query], allowed: set[uuid.UUID]
) -> list[QueryTiming]:
    timings = [QueryTiming(query) for query in queries]
    for warm_up in (True, *([False] * PASSES)):
        for timing in timings:
            async with sessions() as session:
                query = retrieve(session, user_id, timing.query.text, limit=SEARCH_LIMIT)
                retrieval, elapsed = await timed(query)
            search.check_own(
                timing.query.text, (r.hit.transcript_id for r in retrieval.hits), allowed
            )
            timing.hits = len(retrieval.hits)
            if not warm_up:
                timing.seconds.append(elapsed)
    return timings


async def take_apart(pool: asyncpg.Pool, user_id: uuid.UUID, timing: QueryTiming) -> list[float]:
    """Seconds for each of RANKING_STEPS in the reading retrieve used: median of 3, warm."""
    tsquery = search.MATCH_ALL if timing.mode == "all" else search.MATCH_ANY
    medians = []
    for _, step in RANKING_STEPS:
        statement = f"WITH q AS (SELECT {tsquery} AS tsq) " + step.format(match=USERS_MATCHES)
        runs = [await timed(pool.fetch(statement, user_id, timing.query.text)) for _ in range(4)]
        medians.append(median([seconds for _, seconds in runs[1:]]))  # warm: the first left out
    return medians


@dataclass(frozen=True)
class SearchResults:
    corpus: Corpus
    owner: list[QueryTiming]
    other: list[QueryTiming]
    plans: dict[str, list[search.Plan]]  # by user
    steps: list[float]

    @property
    def slowest(self) -> QueryTiming:
        return max(self.owner, key=lambda timing: timing.median_ms)


async def count_matches(pool: asyncpg.Pool, user_id: uuid.UUID, timing: QueryTiming) -> None:
    """How many of the user's passages the query matched, and in which reading: retrieve falls
    back to "any" word when no passage has them all."""
    for reading in ("all", "any"):
        timing.mode = reading
        timing.matched = await search.count_matching(pool, user_id, timing.query.text, reading)
        if timing.matched:
            return


def search_reading(statement: str) -> str:
    return "all" if "websearch_to_tsquery" in statement else "any"


async def measure_search(
    engine: AsyncEngine, sessions: db.Sessions, pool: asyncpg.Pool, settings: Settings
) -> SearchResults:
    corpus = await load_corpus(pool, settings.tokenizer_encoding)
    queries = search.search_queries()
    users = {"owner": corpus.owner, "second user": corpus.other}
    owner, other = [
        await time_queries(sessions, user_id, queries, corpus.transcript_ids(user_id))
        for user_id in users.values()
    ]
    for timing in owner:
        await count_matches(pool, corpus.owner, timing)
    slowest = max(owner, key=lambda timing: timing.median_ms)
    plans = {}
    for label, user_id in users.items():
        call = search.hybrid_call(user_id, slowest.query.text, None)  # retrieve's defaults
        plans[label] = await search.explain_statements(
            engine, sessions, pool, call, marker="ts_headline", label=search_reading
        )
    return SearchResults(corpus, owner, other, plans, await take_apart(pool, corpus.owner, slowest))


# --- report ----------------------------------------------------------------------------------


def latency_table(results: SearchResults) -> Table:
    corpus, rows = results.corpus, []
    for label, chunks, timings in (
        ("owner", corpus.owner_chunks, results.owner),
        ("second user", corpus.chunks - corpus.owner_chunks, results.other),
    ):
        samples = [seconds for timing in timings for seconds in timing.seconds]
        mean = report.ms(statistics.fmean(samples))
        rows.append([label, f"{chunks:,}", str(len(samples)), *report.percentiles(samples), mean])
    return report.table(
        f"2b. retrieve(limit={SEARCH_LIMIT}) latency, 50 queries x {PASSES} passes",
        ("user", "chunks", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms", "mean ms"),
        rows,
        caption="A session per query (BEGIN, the search or two, ROLLBACK), after a warm-up pass. "
        "Every hit was checked to be the searching user's own.",
    )


def kinds_table(results: SearchResults) -> Table:
    by_kind: dict[str, list[QueryTiming]] = defaultdict(list)
    for timing in results.owner:
        by_kind[timing.query.kind].append(timing)
    rows = []
    for kind, timings in by_kind.items():
        medians = [timing.median_ms for timing in timings]
        matched = median([timing.matched for timing in timings])
        readings = ", ".join(sorted({timing.mode for timing in timings}))
        figures = [f"{median(medians):.1f}", f"{max(medians):.1f}", f"{matched:,.0f}"]
        rows.append([kind, str(len(timings)), *figures, readings])
    return report.table(
        "2c. By kind of query (the owner; median of each query's timed passes)",
        ("kind", "queries", "median ms", "max ms", "matched passages (median)", "reading"),
        rows,
    )


def slowest_table(results: SearchResults) -> Table:
    other = {timing.query.text: timing for timing in results.other}
    ranked = sorted(results.owner, key=lambda timing: timing.median_ms, reverse=True)
    rows = [
        [t.query.text, t.query.kind, f"{t.median_ms:.1f}", f"{other[t.query.text].median_ms:.1f}",
         str(t.hits), f"{t.matched:,}", t.mode]
        for t in ranked[:SLOWEST_SHOWN]
    ]  # fmt: skip
    return report.table(
        f"2d. The {SLOWEST_SHOWN} slowest queries (owner)",
        ("query", "kind", "median ms", "second user ms", "hits", "matched", "reading"),
        rows,
        caption='reading "any": no chunk had every word, so retrieve searched again for any.',
    )


def steps_table(results: SearchResults) -> Table:
    slowest = results.slowest
    rows = [
        [label, report.ms(seconds)]
        for (label, _), seconds in zip(RANKING_STEPS, results.steps, strict=True)
    ]
    rows.append(
        ["retrieve() as timed in 2d (+ headlines, coverage, join)", f"{slowest.median_ms:.1f}"]
    )
    return report.table(
        f'2f. The slowest query taken apart (owner, reading "{slowest.mode}", '
        f"{slowest.matched:,} matching passages)",
        ("step", "ms"),
        rows,
        caption="Raw asyncpg, the same WHERE as retrieve; median of 3 after a warm-up.",
    )


def print_plans(results: SearchResults) -> None:
    report.say(
        f"2e. EXPLAIN (ANALYZE, BUFFERS) of the slowest query, {results.slowest.query.text!r}, "
        "with the SQL and parameters retrieve sent (a second run: caches warm):"
    )
    for user, plans in results.plans.items():
        for plan in plans:
            gin = "used" if "ix_passages_search_vector" in plan.indexes else "NOT used"
            report.say(
                f'  {user}, reading "{plan.reading}": {plan.execution}; GIN index {gin}; '
                f"indexes: {', '.join(plan.indexes)}"
            )
    ranked = results.plans["owner"][-1]
    report.say(
        f'The owner\'s "{ranked.reading}" plan, from the Limit of the CTE that finds and ranks:'
    )
    for line in ranked.ranking():
        report.say(line)


async def benchmark() -> None:
    clock = Clock()
    async with db.throwaway_database() as database_url:
        settings = db.bench_settings(database_url)
        chat_settings = settings.model_copy(
            update={"chunk_tokens": CHUNK_TOKENS, "chunk_overlap": LABELLED_OVERLAP}
        )
        async with db.app_engine(settings) as engine, db.asyncpg_pool(database_url) as pool:
            sessions = db.session_maker(engine)
            runs, tokenizer_load = await ingestion.measure_ingestion(
                engine, sessions, settings, await db.new_user(pool)
            )
            searched = await measure_search(engine, sessions, pool, settings)
            chat = await measure_chat(sessions, chat_settings, pool)
    report.print_tables(
        ingestion.ingestion_table(runs, settings, tokenizer_load),
        searched.corpus.load_table(),
        latency_table(searched),
        kinds_table(searched),
        slowest_table(searched),
    )
    print_plans(searched)
    report.print_tables(steps_table(searched), chat_table(chat, chat_settings))
    score = chat.hits_at_5 / len(QUESTIONS)
    report.say(
        f"4. hit@5 on the labelled set ({len(TALKS)} talks, {CHUNK_TOKENS}-token chunks): "
        f"{score:.2f} ({chat.hits_at_5}/{len(QUESTIONS)}), floor {HIT_AT_5_FLOOR}: "
        f"{report.verdict(score >= HIT_AT_5_FLOOR)}; misses: {chat.misses}"
    )
    report.say(clock.closing())


if __name__ == "__main__":
    run_benchmark(benchmark)
