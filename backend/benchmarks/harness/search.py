"""Searching the corpus as the application does: fifty queries of the kinds people type,
`retrieve` timed by mode with each statement's time by step, and EXPLAIN (ANALYZE, BUFFERS) of
what a call sends."""

import re
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories import PassageEmbeddingRepository, PassageRepository
from app.services.embeddings.base import EmbeddingProvider
from app.services.retrieval import (
    CANDIDATES_PER_SIGNAL,
    WEBSEARCH_SYNTAX,  # the test retrieve makes: quotes, -words and "or" read strictly
    QueryVector,
    SearchMode,
    retrieve,
)
from benchmarks.harness.database import Bench, Sessions
from benchmarks.harness.text import vocabulary
from benchmarks.harness.timing import StatementTimer, listening, timed

SEARCH_LIMIT = 10
SEARCH_PASSES = 4  # timed, after one warm-up pass: 200 samples a mode

MATCH_ALL = "websearch_to_tsquery('english', $2)"
# The repository's "any" reading: the query's own lexemes, OR-ed.
MATCH_ANY = (
    "(SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery "
    "FROM unnest(tsvector_to_array(to_tsvector('english', $2))) AS lexeme)"
)
# Retrieve searches the passages' words (app/db/repositories/passage.py).
COUNT_MATCHES = "SELECT count(*) FROM passages WHERE user_id = $1 AND search_vector @@ {tsquery}"

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
INDEX_NODE = re.compile(r"(?:Bitmap Index Scan|Index Scan|Index Only Scan) (?:on|using) (\w+)")

SessionCall = Callable[[AsyncSession], Awaitable[object]]


@dataclass(frozen=True)
class Query:
    kind: str
    text: str


def search_queries() -> list[Query]:
    """Fifty queries of the kinds people type, from one common word to a whole question."""
    words = vocabulary()
    kinds = {
        "1 common word": "people time really work different example important question",
        "1 topic word": (
            "sourdough marathon inverter asyncio espresso telescope dovetail kettlebell"
        ),
        "1 rare word": f"zanzibar okavango kilimanjaro {words[1500]} {words[2500]} {words[3400]}",
    }
    queries = [Query(kind, text) for kind, texts in kinds.items() for text in texts.split()]
    phrases = {
        "2-3 words": (
            "sourdough starter", "marathon taper", "solar inverter battery", "python event loop",
            "espresso grinder", "people work", "time example", "telescope galaxy nebula",
            "zanzibar people", f"{words[300]} {words[900]}",
        ),
        "quoted phrase": ('"dutch oven"', '"black hole"', '"golden hour"'),
        "question": (
            "how do I keep my sourdough starter alive",
            "what is the best shutter speed for golden hour photos",
            "why does my espresso taste so bitter",
            "how long should I taper before a marathon",
            "what does the event loop do in python asyncio",
            "can a black hole swallow a whole galaxy",
            "how do I stop aphids on my tomato plants",
            "is an index fund better than picking stocks",
        ),
        "websearch syntax": (
            "marathon -shoes", "espresso or tea", "compost mulch -tomato", '"table saw" safety',
        ),
        "no match": ("zeppelin quasar", "xylophonist", "the and of"),
    }  # fmt: skip
    return queries + [Query(kind, text) for kind, texts in phrases.items() for text in texts]


def check_own(query: str, transcript_ids: Iterable[uuid.UUID], allowed: set[uuid.UUID]) -> None:
    """Every hit must be the searching user's own."""
    foreign = [transcript_id for transcript_id in transcript_ids if transcript_id not in allowed]
    if foreign:
        raise RuntimeError(f"{query!r} found other users' chunks: {foreign}")


async def count_matching(pool: asyncpg.Pool, user_id: uuid.UUID, query: str, reading: str) -> int:
    """How many of the user's passages the query matches, reading "all" its words or "any"."""
    tsquery = MATCH_ALL if reading == "all" else MATCH_ANY
    matched: int = await pool.fetchval(COUNT_MATCHES.format(tsquery=tsquery), user_id, query)
    return matched


def retrieval_step(statement: str) -> str:
    return next((label for label, marker in RETRIEVAL_STEPS if marker in statement), OTHER_STEP)


def indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" ->"))


@dataclass(frozen=True)
class Plan:
    reading: str  # which statement: the search's reading, or the retrieval step
    lines: list[str]

    @property
    def indexes(self) -> list[str]:
        found = (INDEX_NODE.search(line) for line in self.lines)
        return list(dict.fromkeys(match[1] for match in found if match))

    @property
    def execution(self) -> str:
        return next((line for line in self.lines if line.startswith("Execution Time")), "")

    def ranking(self) -> list[str]:
        """The subtree that finds and ranks the chunks: from the `top` CTE's Limit down."""
        start = next((i for i, line in enumerate(self.lines) if "Limit" in line), 0)
        depth = indentation(self.lines[start])
        end = next(
            (i for i in range(start + 1, len(self.lines)) if indentation(self.lines[i]) <= depth),
            len(self.lines),
        )
        return self.lines[start:end]


async def explain_statements(
    bench: Bench,
    call: SessionCall,
    *,
    marker: str = "",
    label: Callable[[str], str] = retrieval_step,
) -> list[Plan]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement containing `marker` that `call(session)`
    sends, replayed with its parameters in one transaction on a plain connection (so that SET
    LOCAL settings apply); a second run, caches warm."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if marker in statement:
            sent.append((statement, parameters))

    with listening(bench.engine, "before_cursor_execute", record):
        async with bench.sessions() as session:
            await call(session)
    plans = []
    async with bench.pool.acquire() as connection, connection.transaction():
        for statement, parameters in sent:
            if statement.lstrip().upper().startswith("SELECT SET_CONFIG"):
                await connection.fetch(statement, *parameters)
                continue
            rows = await connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *parameters)
            plans.append(Plan(label(statement), [row[0] for row in rows]))
    return plans


def reading(question: str) -> str:
    """The full-text reading retrieve uses for a question: "all" its words for quotes, -word
    and "or" (retrieve's strict test), else "any"."""
    return "all" if WEBSEARCH_SYNTAX.search(question) else "any"


def lexical_call(user_id: uuid.UUID, question: str) -> SessionCall:
    """`PassageRepository.search` as retrieve calls it."""
    return lambda session: PassageRepository(session).search(
        user_id, question, limit=CANDIDATES_PER_SIGNAL, match=reading(question)
    )


def nearest_call(user_id: uuid.UUID, vector: QueryVector) -> SessionCall:
    """`PassageEmbeddingRepository.nearest` as retrieve calls it."""
    return lambda session: PassageEmbeddingRepository(session).nearest(
        user_id, vector.vector, vector.model_name, limit=CANDIDATES_PER_SIGNAL
    )


def hybrid_call(user_id: uuid.UUID, question: str, vector: QueryVector | None) -> SessionCall:
    return lambda session: retrieve(
        session, user_id, question, query_vector=vector, mode=SearchMode.HYBRID, limit=SEARCH_LIMIT
    )


@dataclass(frozen=True)
class Sample:
    """One timed retrieve call, with its statements' time by step."""

    query: Query
    seconds: float
    steps: dict[str, float]
    hits: int

    def step(self, name: str) -> float:
        if name == REST_STEP:
            return self.seconds - sum(self.steps.values())
        return self.steps.get(name, 0.0)


def median_seconds(samples: Sequence[Sample], step: str | None = None) -> float:
    return statistics.median(s.seconds if step is None else s.step(step) for s in samples)


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

    def by_query(self) -> dict[str, list[Sample]]:
        found: dict[str, list[Sample]] = defaultdict(list)
        for sample in self.samples:
            found[sample.query.text].append(sample)
        return found

    def slowest(self, count: int) -> list[list[Sample]]:
        """The `count` queries with the highest median time, slowest first: their samples."""
        return sorted(self.by_query().values(), key=median_seconds, reverse=True)[:count]


async def time_mode(
    sessions: Sessions, timing: ModeTiming, user_id: uuid.UUID, queries: Sequence[Query],
    vectors: dict[str, QueryVector], allowed: set[uuid.UUID], *,
    timer: StatementTimer | None = None, passes: int = SEARCH_PASSES,
) -> ModeTiming:  # fmt: skip
    """One warm-up pass, then `passes` timed ones, a session per query (with `timer` listening
    on the sessions' engine, each statement's time by step)."""
    timer = timer or StatementTimer(retrieval_step)
    for measured in (False, *([True] * passes)):
        for query in queries:
            vector = None if timing.mode is SearchMode.LEXICAL else vectors.get(query.text)
            async with sessions() as session:
                with timer.recording() as steps:
                    started = time.perf_counter()
                    retrieval = await retrieve(
                        session, user_id, query.text, query_vector=vector, mode=timing.mode,
                        limit=SEARCH_LIMIT,
                    )  # fmt: skip
                    elapsed = time.perf_counter() - started
            check_own(query.text, (r.hit.transcript_id for r in retrieval.hits), allowed)
            if measured:
                timing.samples.append(Sample(query, elapsed, dict(steps), len(retrieval.hits)))
    return timing


async def embed_queries(
    provider: EmbeddingProvider, queries: Sequence[Query]
) -> tuple[dict[str, QueryVector], list[float]]:
    """Each query's vector from the real model, and the seconds each took (a search pays it
    before retrieve)."""
    vectors, seconds = {}, []
    for query in queries:
        vector, elapsed = await timed(provider.embed_query(query.text))
        seconds.append(elapsed)
        vectors[query.text] = QueryVector(provider.model_name, vector)
    return vectors, seconds
