"""What talking to your videos costs: ingestion, search, a chat round trip, and hit@5.

One run, one throw-away database, four measurements:

1. Ingestion of a 3-hour video end to end: a job queued with `JobRepository.enqueue_ingest`,
   then `IngestWorker.run_once()` with a `YouTubeFetcher` on the offline replay session
   (tests/youtube_replay.py) serving 2,700 captions of about 12 words, 4 s apart. Timed from
   the enqueue to the job marked done, three times (new video ids), with where the time goes:
   the fetch and parse (timed around the fetcher), the chunking (`chunk_segments` again on the
   same captions, alone), the SQL statements by table (round trips included), the commits,
   the rest, and the garbage collector's pauses within all that. The application's own
   chunking settings apply (700 tokens, 20 % overlap by default).
2. Search latency over 1,100 transcripts of 150 chunks (165,000 chunks of about 150 tokens):
   English-like text, a few thousand words with Zipf-like frequencies, each transcript on one
   of 20 topics whose words recur in its chunks, and a few rare names, all seeded. 1,000
   transcripts belong to one user and 100 to a second, mixed on disk; loaded with COPY from
   two connections, then VACUUM ANALYZE. 50 queries (common, topic and rare words, 2-3 word
   queries, quoted phrases, questions, websearch syntax, no match) go through
   `app.services.retrieval.retrieve(session, user, q, limit=10)`, a session each, once to warm
   up and three times timed, for both users (the second user's hits are checked to be theirs).
   Reports p50/p95/p99/max, the slowest queries with how many chunks they matched, and
   EXPLAIN (ANALYZE, BUFFERS) of the slowest one for both users, run with the exact SQL and
   parameters the application sent; then that query's matching, ranking with ts_rank (what
   retrieve uses) and with ts_rank_cd, timed apart.
3. An offline chat round trip: the labelled talks (tests/retrieval/labelled_set.py) stored
   with `store_transcript` for a third user, then 50 questions into one conversation, each a
   unit of work of its own (load the conversation, `start_turn`, `answer` with
   `OfflineExtractiveModel`, commit); split into those steps, the model's own time, and
   retrieval timed separately with the chat's settings.
4. hit@5 of `retrieve(..., limit=5)` on the labelled set, chunked as its tests chunk it.

The database is created on the server BENCH_DATABASE_URL or TEST_DATABASE_URL names, else on an
embedded PostgreSQL in backend/.data/postgres-bench, migrated to head and dropped at the end.
Takes about 30 s on two otherwise idle cores (50 s on a busy machine), half of it loading the
165,000 chunks:

    cd backend && .venv/bin/python -m benchmarks.talk
"""

import asyncio
import gc
import itertools
import json
import os
import random
import re
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import asyncpg
from rich.console import Console
from rich.table import Table
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings, get_settings
from app.db.repositories import (
    ChunkRepository,
    ConversationRepository,
    JobRepository,
    NewChunk,
)
from app.db.session import UnitOfWork, build_engine
from app.services.chat import answer, start_turn
from app.services.chunking import Segment, chunk_segments, count_tokens, get_tokenizer
from app.services.extract import Passage
from app.services.ingest_worker import IngestWorker
from app.services.llm import ChatMessage, Completion, OfflineExtractiveModel, StreamEvent
from app.services.passages import chunk_passages
from app.services.retrieval import retrieve
from app.services.transcripts import NewTranscript, store_transcript
from app.services.youtube_fetcher import FetchedVideo, YouTubeFetcher
from benchmarks.harness import run_database_benchmark
from benchmarks.http_load import percentile_ms, report_console
from benchmarks.repositories import (
    CHUNK_COLUMNS,
    INSERT_USER,
    PASSWORD_HASH,
    asyncpg_pool,
    chunk_record,
    server_url,
    throwaway_database,
    unique_email,
)
from tests.retrieval.labelled_set import (
    CHUNK_TOKENS,
    HIT_AT_5_FLOOR,
    QUESTIONS,
    TALKS,
    Talk,
    answers,
)
from tests.youtube_replay import Caption, ReplayVideo, replay_session

SEED = 20_240_611
POOL_SIZE = 4

# 1. Ingestion
INGEST_RUNS = 3
CAPTIONS = 2_700
CAPTION_SECONDS = 4.0  # 2,700 x 4 s = 3 hours
CAPTION_WORDS = (10, 14)

# 2. Search
OWNER_TRANSCRIPTS = 1_000
OTHER_TRANSCRIPTS = 100  # the second user: every eleventh transcript
CHUNKS_PER_TRANSCRIPT = 150
WORDS_PER_CHUNK = 94  # with the topic words, about 150 cl100k tokens
TOPIC_TERMS_PER_CHUNK = (3, 10)
RARE_TERM_CHANCE = 0.0005  # per chunk: about 80 chunks carry one of the rare names
CHUNK_SECONDS = 48.0
TRANSCRIPTS_PER_BATCH = 10  # 1,500 chunks per COPY
LOADERS = 2  # COPY connections: one per core, while a thread generates the next batch
VOCABULARY_SIZE = 3_500
ZIPF_EXPONENT = 1.0
SEARCH_LIMIT = 10
SEARCH_PASSES = 3  # timed, after one warm-up pass
SLOWEST_SHOWN = 5

# 3. Chat and 4. hit@5
CHAT_TURNS = 50
LABELLED_OVERLAP = 0.2  # the talks are chunked as tests/api/test_search.py chunks them

# Ordinary spoken English, most frequent first; the first third are stopwords, which
# to_tsvector drops, as it does about half of the words of real talk.
COMMON_WORDS = """
the and to of a i you it that in is was we so this for on they but what with just have be not
are do my can all there about your if or at as he an by his from me our their them then were
would will had been more some when how these no very here could which out up who because
know like get people think really going right well time actually thing things good make way
want need look see work lot year say go take first new much kind little use back day something
different start point question mean pretty sure part great find bit next important problem show
try give long idea example change place number world end talk help today keep call old better
fact hand system small week big course life understand simple case minute real whole maybe high
feel stuff second story moment best easy hard money person own another every around always
never enough large early group might open play run school still thought together turn without
""".split()  # noqa: SIM905 - a word list reads better as text

# Twenty subjects; a transcript keeps to one, so its words recur there and almost nowhere else.
TOPICS: dict[str, tuple[str, ...]] = {
    "baking": (
        "sourdough", "starter", "flour", "dough", "crust", "dutch oven", "proofing", "yeast",
        "gluten", "loaf",
    ),
    "running": (
        "marathon", "mileage", "taper", "pace", "long run", "shoes", "hydration", "interval",
        "tempo", "stride",
    ),
    "solar": (
        "solar", "panel", "inverter", "photovoltaic", "battery", "silicon", "wattage", "grid",
        "rooftop", "efficiency",
    ),
    "python": (
        "python", "asyncio", "coroutine", "event loop", "decorator", "generator", "typing",
        "pip", "virtualenv", "interpreter",
    ),
    "databases": (
        "postgresql", "index", "query", "planner", "vacuum", "replication", "transaction",
        "schema", "jsonb", "btree",
    ),
    "coffee": (
        "espresso", "grinder", "pour over", "crema", "roast", "arabica", "brew", "barista",
        "bloom", "french press",
    ),
    "gardening": (
        "compost", "tomato", "seedling", "mulch", "pruning", "soil", "fertilizer", "raised bed",
        "perennial", "aphids",
    ),
    "photography": (
        "aperture", "shutter", "exposure", "lens", "bokeh", "tripod", "iso", "histogram",
        "golden hour", "mirrorless",
    ),
    "finance": (
        "inflation", "portfolio", "dividend", "mortgage", "index fund", "bond", "interest",
        "budget", "pension", "equity",
    ),
    "astronomy": (
        "telescope", "galaxy", "nebula", "orbit", "exoplanet", "black hole", "supernova",
        "comet", "eclipse", "spectrum",
    ),
    "guitar": (
        "chord", "fretboard", "capo", "strumming", "pentatonic", "amplifier", "power chord",
        "tuning", "riff", "pick",
    ),
    "chess": (
        "gambit", "checkmate", "endgame", "bishop", "knight", "castling", "opening", "pawn",
        "tactics", "queen sacrifice",
    ),
    "cycling": (
        "derailleur", "cadence", "peloton", "saddle", "climb", "chainring", "puncture",
        "helmet", "watts", "gravel",
    ),
    "woodworking": (
        "chisel", "dovetail", "plywood", "sander", "table saw", "joinery", "varnish", "clamp",
        "grain", "router",
    ),
    "climate": (
        "emissions", "carbon", "glacier", "sea level", "drought", "methane", "renewable",
        "heatwave", "forecast", "ocean",
    ),
    "machine learning": (
        "neural", "gradient", "transformer", "dataset", "loss function", "embedding",
        "overfitting", "tensor", "inference", "training",
    ),
    "history": (
        "empire", "medieval", "dynasty", "revolution", "archive", "treaty", "roman empire",
        "manuscript", "castle", "siege",
    ),
    "cooking": (
        "garlic", "saute", "simmer", "cast iron", "braise", "umami", "marinade", "knife",
        "stock", "seasoning",
    ),
    "fitness": (
        "squat", "deadlift", "protein", "rest day", "hypertrophy", "kettlebell", "mobility",
        "stretching", "core", "reps",
    ),
    "travel": (
        "itinerary", "passport", "hostel", "carry on", "layover", "visa", "backpack", "train",
        "museum", "jetlag",
    ),
}  # fmt: skip
RARE_TERMS = (
    "zanzibar",
    "okavango",
    "kilimanjaro",
    "brahmaputra",
    "quetzalcoatl",
    "tierra del fuego",
    "vanuatu",
    "transnistria",
)

SYLLABLE_ONSETS = "bdfgklmnprstvz"
SYLLABLE_VOWELS = "aeiou"
SYLLABLE_CODAS = ("", "", "n", "r", "s", "t", "l")

Sessions = async_sessionmaker[AsyncSession]
ChunkRow = tuple[Any, ...]


# --- text ------------------------------------------------------------------------------------


def invented_word(rng: random.Random) -> str:
    syllables = rng.randint(2, 3)
    stem = "".join(
        rng.choice(SYLLABLE_ONSETS) + rng.choice(SYLLABLE_VOWELS) for _ in range(syllables)
    )
    return stem + rng.choice(SYLLABLE_CODAS)


@cache
def vocabulary() -> tuple[str, ...]:
    """The common words, then invented ones, by falling frequency: names nobody searches for,
    standing in for the long tail of a real vocabulary."""
    rng = random.Random(SEED)
    taken = set(COMMON_WORDS) | {term for terms in TOPICS.values() for term in terms}
    words = list(dict.fromkeys(COMMON_WORDS))
    while len(words) < VOCABULARY_SIZE:
        word = invented_word(rng)
        if word not in taken:
            taken.add(word)
            words.append(word)
    return tuple(words)


def zipf_cumulative(size: int) -> list[float]:
    return list(itertools.accumulate(1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(size)))


class TextGenerator:
    """Seeded English-like text: Zipf-distributed words, some of a topic, now and then a rare
    name. Not thread-safe: one thread at a time draws from it."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary()
        self.word_weights = zipf_cumulative(len(self.words))
        self.topic_weights = zipf_cumulative(len(next(iter(TOPICS.values()))))

    def topic(self) -> str:
        return self.rng.choice(list(TOPICS))

    def words_about(self, topic: str, count: int, topic_terms: int) -> list[str]:
        words = self.rng.choices(self.words, cum_weights=self.word_weights, k=count)
        terms = TOPICS[topic]
        for term in self.rng.choices(terms, cum_weights=self.topic_weights, k=topic_terms):
            words.insert(self.rng.randrange(len(words) + 1), term)
        return words

    def chunk_text(self, topic: str) -> str:
        words = self.words_about(topic, WORDS_PER_CHUNK, self.rng.randint(*TOPIC_TERMS_PER_CHUNK))
        if self.rng.random() < RARE_TERM_CHANCE:
            words.insert(self.rng.randrange(len(words) + 1), self.rng.choice(RARE_TERMS))
        return " ".join(words)

    def caption(self, topic: str) -> str:
        count = self.rng.randint(*CAPTION_WORDS)
        return " ".join(self.words_about(topic, count, self.rng.randint(0, 2))[:count])


# --- database plumbing -----------------------------------------------------------------------


@asynccontextmanager
async def application_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(settings)
    try:
        yield engine
    finally:
        await engine.dispose()


def units_of_work(sessions: Sessions, commits: list[float] | None = None) -> UnitOfWork:
    """`app.db.session.unit_of_work`'s contract on this benchmark's own engine; the time each
    commit took goes to `commits` when given."""

    @asynccontextmanager
    async def unit_of_work() -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            try:
                yield session
                started = time.perf_counter()
                await session.commit()
                if commits is not None:
                    commits.append(time.perf_counter() - started)
            except BaseException:
                await session.rollback()
                raise

    return unit_of_work


async def new_user(pool: asyncpg.Pool) -> uuid.UUID:
    user_id: uuid.UUID = (await pool.fetchrow(INSERT_USER, unique_email(), PASSWORD_HASH))["id"]
    return user_id


def statement_kind(statement: str) -> str:
    text = statement.lstrip()
    if text.startswith("INSERT INTO transcripts"):
        return "transcripts"
    if text.startswith("INSERT INTO chunks"):
        return "chunks"
    if text.startswith("INSERT INTO passages"):
        return "passages"
    if "jobs" in text:
        return "jobs"
    return "other"


class StatementTimer:
    """Wall time of the SQL statements an engine sends (round trips included), by kind."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def before(self, conn: Connection, *_: Any) -> None:
        conn.info.setdefault("benchmark_started", []).append(time.perf_counter())

    def after(self, conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
        started = conn.info["benchmark_started"].pop()
        self.seconds[statement_kind(statement)] += time.perf_counter() - started

    @contextmanager
    def listening(self, engine: AsyncEngine) -> Iterator["StatementTimer"]:
        event.listen(engine.sync_engine, "before_cursor_execute", self.before)
        event.listen(engine.sync_engine, "after_cursor_execute", self.after)
        try:
            yield self
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", self.before)
            event.remove(engine.sync_engine, "after_cursor_execute", self.after)


@contextmanager
def statements_sent(engine: AsyncEngine, marker: str) -> Iterator[list[tuple[str, Any]]]:
    """The SQL and driver-level parameters of the statements containing `marker`."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Connection, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if marker in statement:
            sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@contextmanager
def gc_pauses() -> Iterator[list[tuple[int, float]]]:
    """(generation, seconds) of each pause of Python's cyclic garbage collector in the block,
    whichever thread it happened in."""
    pauses: list[tuple[int, float]] = []
    started = time.perf_counter()

    def on_collection(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - started))

    gc.callbacks.append(on_collection)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(on_collection)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- 1. ingestion ----------------------------------------------------------------------------


def three_hour_video(video_id: str, text: TextGenerator) -> ReplayVideo:
    topic = text.topic()
    captions: list[Caption] = [
        (index * CAPTION_SECONDS, CAPTION_SECONDS, text.caption(topic)) for index in range(CAPTIONS)
    ]
    return ReplayVideo(
        video_id=video_id, title=f"Three hours of {topic}", channel_name="Bench", captions=captions
    )


class TimedFetcher:
    """The real fetcher, with the time its fetch (requests, parsing) took and what it got."""

    def __init__(self, inner: YouTubeFetcher) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.video: FetchedVideo | None = None

    def fetch(self, video_id: str, languages: Sequence[str]) -> FetchedVideo:
        started = time.perf_counter()
        self.video = self.inner.fetch(video_id, languages)
        self.seconds = time.perf_counter() - started
        return self.video


@dataclass(frozen=True)
class IngestRun:
    video_id: str
    captions: int
    words: int
    segments_json_kb: float
    chunks: int
    seconds: float
    fetch: float
    chunking: float
    sql: dict[str, float]
    commits: float
    gc_pauses: list[tuple[int, float]]

    @property
    def rest(self) -> float:
        accounted = self.fetch + self.chunking + sum(self.sql.values()) + self.commits
        return self.seconds - accounted


async def ingest_once(
    engine: AsyncEngine,
    sessions: Sessions,
    settings: Settings,
    user_id: uuid.UUID,
    video: ReplayVideo,
) -> IngestRun:
    commits: list[float] = []
    unit_of_work = units_of_work(sessions, commits)
    fetcher = TimedFetcher(YouTubeFetcher(http=replay_session(video)[0]))
    worker = IngestWorker(unit_of_work, lambda: fetcher, settings)
    with StatementTimer().listening(engine) as timer, gc_pauses() as pauses:
        started = time.perf_counter()
        async with unit_of_work() as session:
            job, _ = await JobRepository(session).enqueue_ingest(
                user_id=user_id,
                video_id=video.video_id,
                languages=settings.ingest_languages,
                max_attempts=settings.job_max_attempts,
            )
        processed = await worker.run_once()
        seconds = time.perf_counter() - started
    commit_seconds = sum(commits)
    async with unit_of_work() as session:
        finished = await JobRepository(session).get_by_id(job.id)
        if not processed or finished is None or finished.transcript_id is None:
            raise RuntimeError(f"the ingest job for {video.video_id} did not finish: {finished}")
        chunks = (await ChunkRepository(session).page_for_transcript(finished.transcript_id)).total
    assert fetcher.video is not None
    segments = fetcher.video.segments
    chunking_started = time.perf_counter()
    chunk_segments(
        segments, settings.chunk_tokens, settings.chunk_overlap, settings.tokenizer_encoding
    )
    chunking = time.perf_counter() - chunking_started
    segments_json = json.dumps(
        [{"text": s.text, "start": s.start, "duration": s.duration} for s in segments]
    )
    return IngestRun(
        video_id=video.video_id,
        captions=len(segments),
        words=sum(len(s.text.split()) for s in segments),
        segments_json_kb=len(segments_json) / 1024,
        chunks=chunks,
        seconds=seconds,
        fetch=fetcher.seconds,
        chunking=chunking,
        sql=dict(timer.seconds),
        commits=commit_seconds,
        gc_pauses=pauses,
    )


async def measure_ingestion(
    engine: AsyncEngine, sessions: Sessions, settings: Settings, user_id: uuid.UUID
) -> tuple[list[IngestRun], float]:
    """Three ingestions; also how long the tokenizer takes to load, which a worker's first job
    pays (warmed up here, so the runs compare)."""
    started = time.perf_counter()
    get_tokenizer(settings.tokenizer_encoding)
    tokenizer_load = time.perf_counter() - started
    text = TextGenerator(SEED + 1)
    runs = [
        await ingest_once(
            engine, sessions, settings, user_id, three_hour_video(f"bench3h{n:04d}", text)
        )
        for n in range(INGEST_RUNS)
    ]
    return runs, tokenizer_load


# --- 2. search -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedTranscript:
    id: uuid.UUID
    user_id: uuid.UUID
    video_id: str
    topic: str


@dataclass
class Corpus:
    owner: uuid.UUID
    other: uuid.UUID
    transcripts: list[PlannedTranscript]
    chunks: int = 0
    passages: int = 0
    tokens: int = 0
    load_seconds: float = 0.0
    vacuum_seconds: float = 0.0
    sizes: dict[str, str] = field(default_factory=dict)

    def transcript_ids(self, user_id: uuid.UUID) -> set[uuid.UUID]:
        return {t.id for t in self.transcripts if t.user_id == user_id}


def plan_transcripts(
    owner: uuid.UUID,
    other: uuid.UUID,
    text: TextGenerator,
    owner_transcripts: int = OWNER_TRANSCRIPTS,
) -> list[PlannedTranscript]:
    # The other user's transcripts are spread evenly (every eleventh by default), so both
    # users' chunks share the heap's pages as they would after months of use.
    stride = (owner_transcripts + OTHER_TRANSCRIPTS) // OTHER_TRANSCRIPTS
    return [
        PlannedTranscript(
            id=uuid.uuid4(),
            user_id=other if n % stride == stride - 1 else owner,
            video_id=f"corpus{n:05d}",
            topic=text.topic(),
        )
        for n in range(owner_transcripts + OTHER_TRANSCRIPTS)
    ]


PASSAGE_COLUMNS = (
    "id",
    "chunk_id",
    "transcript_id",
    "user_id",
    "passage_index",
    "passage_text",
    "word_offset",
    "start_seconds",
    "end_seconds",
)


@dataclass(frozen=True)
class RowBatch:
    """Chunk rows and their passages' rows, copied in that order (passages reference chunks)."""

    chunks: list[ChunkRow]
    passages: list[ChunkRow]


def passage_records(
    chunk_id: uuid.UUID, chunk: NewChunk, metadata: dict[str, Any]
) -> list[ChunkRow]:
    """The chunk's passages as storing a transcript cuts them (app/services/passages.py)."""
    return [
        (
            uuid.uuid4(),
            chunk_id,
            chunk.transcript_id,
            chunk.user_id,
            passage.index,
            passage.text,
            passage.word_offset,
            passage.start,
            passage.end,
        )
        for passage in chunk_passages(chunk.chunk_text, metadata)
    ]


def chunk_rows(
    transcripts: Sequence[PlannedTranscript], text: TextGenerator, encoding: str
) -> RowBatch:
    batch = RowBatch([], [])
    for transcript in transcripts:
        for index in range(CHUNKS_PER_TRANSCRIPT):
            body = text.chunk_text(transcript.topic)
            start = index * CHUNK_SECONDS
            metadata = {"start_seconds": start, "end_seconds": start + CHUNK_SECONDS}
            chunk = NewChunk(
                transcript_id=transcript.id,
                user_id=transcript.user_id,
                chunk_index=index,
                chunk_text=body,
                token_count=count_tokens(body, encoding),
                metadata=metadata,
            )
            record = chunk_record(chunk)
            batch.chunks.append(record)
            batch.passages.extend(passage_records(record[0], chunk, metadata))
    return batch


async def copy_chunks(pool: asyncpg.Pool, batches: asyncio.Queue[RowBatch | None]) -> None:
    async with pool.acquire() as connection:
        while (batch := await batches.get()) is not None:
            await connection.copy_records_to_table(
                "chunks", records=batch.chunks, columns=CHUNK_COLUMNS
            )
            await connection.copy_records_to_table(
                "passages", records=batch.passages, columns=PASSAGE_COLUMNS
            )


async def generate_chunks(
    corpus: Corpus,
    text: TextGenerator,
    encoding: str,
    batches: asyncio.Queue[RowBatch | None],
) -> None:
    """Batches of chunk rows with their passages, each generated in a thread while the loaders
    copy the last ones."""
    for first in range(0, len(corpus.transcripts), TRANSCRIPTS_PER_BATCH):
        planned = corpus.transcripts[first : first + TRANSCRIPTS_PER_BATCH]
        batch = await asyncio.to_thread(chunk_rows, planned, text, encoding)
        corpus.chunks += len(batch.chunks)
        corpus.passages += len(batch.passages)
        corpus.tokens += sum(row[CHUNK_COLUMNS.index("token_count")] for row in batch.chunks)
        await batches.put(batch)
    for _ in range(LOADERS):
        await batches.put(None)


async def load_corpus(
    pool: asyncpg.Pool, encoding: str, owner_transcripts: int = OWNER_TRANSCRIPTS
) -> Corpus:
    text = TextGenerator(SEED)
    owner, other = await new_user(pool), await new_user(pool)
    corpus = Corpus(owner, other, plan_transcripts(owner, other, text, owner_transcripts))
    started = time.perf_counter()
    await pool.copy_records_to_table(
        "transcripts",
        # The full text is left out: search never reads it, and it would double the load.
        records=[
            (t.id, t.user_id, t.video_id, f"A talk about {t.topic}", "(in the chunks)")
            for t in corpus.transcripts
        ],
        columns=("id", "user_id", "youtube_video_id", "title", "transcript_text"),
    )
    batches: asyncio.Queue[RowBatch | None] = asyncio.Queue(maxsize=LOADERS)
    async with asyncio.TaskGroup() as group:
        for _ in range(LOADERS):
            group.create_task(copy_chunks(pool, batches))
        group.create_task(generate_chunks(corpus, text, encoding, batches))
    corpus.load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    await pool.execute("VACUUM ANALYZE transcripts, chunks, passages")
    corpus.vacuum_seconds = time.perf_counter() - started
    sizes = await pool.fetchrow(
        "SELECT pg_size_pretty(pg_relation_size('chunks')) AS heap, "
        "pg_size_pretty(pg_relation_size('ix_chunks_search_vector')) AS gin, "
        "pg_size_pretty(pg_total_relation_size('chunks')) AS total, "
        "pg_size_pretty(pg_total_relation_size('passages')) AS passages_total, "
        "current_setting('shared_buffers') AS shared_buffers, "
        "current_setting('server_version') AS version"
    )
    corpus.sizes = dict(sizes.items())
    return corpus


@dataclass(frozen=True)
class Query:
    kind: str
    text: str


def search_queries() -> list[Query]:
    """Fifty queries of the kinds people type, from one common word to a whole question."""
    words = vocabulary()
    common = ["people", "time", "really", "work", "different", "example", "important", "question"]
    topical = [
        "sourdough",
        "marathon",
        "inverter",
        "asyncio",
        "espresso",
        "telescope",
        "dovetail",
        "kettlebell",
    ]
    rare = ["zanzibar", "okavango", "kilimanjaro", words[1500], words[2500], words[3400]]
    combined = [
        "sourdough starter",
        "marathon taper",
        "solar inverter battery",
        "python event loop",
        "espresso grinder",
        "people work",
        "time example",
        "telescope galaxy nebula",
        "zanzibar people",
        f"{words[300]} {words[900]}",
    ]
    phrases = ['"dutch oven"', '"black hole"', '"golden hour"']
    questions = [
        "how do I keep my sourdough starter alive",
        "what is the best shutter speed for golden hour photos",
        "why does my espresso taste so bitter",
        "how long should I taper before a marathon",
        "what does the event loop do in python asyncio",
        "can a black hole swallow a whole galaxy",
        "how do I stop aphids on my tomato plants",
        "is an index fund better than picking stocks",
    ]
    syntax = ["marathon -shoes", "espresso or tea", "compost mulch -tomato", '"table saw" safety']
    nothing = ["zeppelin quasar", "xylophonist", "the and of"]
    kinds = [
        ("1 common word", common),
        ("1 topic word", topical),
        ("1 rare word", rare),
        ("2-3 words", combined),
        ("quoted phrase", phrases),
        ("question", questions),
        ("websearch syntax", syntax),
        ("no match", nothing),
    ]
    return [Query(kind, text) for kind, texts in kinds for text in texts]


@dataclass
class QueryTiming:
    query: Query
    seconds: list[float] = field(default_factory=list)
    hits: int = 0
    matched: int = 0
    mode: str = ""


async def time_queries(
    sessions: Sessions, user_id: uuid.UUID, queries: Sequence[Query], allowed: set[uuid.UUID]
) -> list[QueryTiming]:
    """Each query in a session of its own: one warm-up pass, then SEARCH_PASSES timed ones.
    Raises when a hit belongs to another user's transcript."""
    timings = [QueryTiming(query) for query in queries]
    for timed in (False, *([True] * SEARCH_PASSES)):
        for timing in timings:
            async with sessions() as session:
                started = time.perf_counter()
                retrieval = await retrieve(session, user_id, timing.query.text, limit=SEARCH_LIMIT)
                hits = [ranked.hit for ranked in retrieval.hits]
                elapsed = time.perf_counter() - started
            foreign = [hit.transcript_id for hit in hits if hit.transcript_id not in allowed]
            if foreign:
                raise RuntimeError(f"{timing.query.text!r} found other users' chunks: {foreign}")
            timing.hits = len(hits)
            if timed:
                timing.seconds.append(elapsed)
    return timings


MATCH_ALL = "websearch_to_tsquery('english', $2)"
# The repository's "any" reading: the query's own lexemes, OR-ed.
MATCH_ANY = (
    "(SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery "
    "FROM unnest(tsvector_to_array(to_tsvector('english', $2))) AS lexeme)"
)
# Retrieve searches the passages' words (app/db/repositories/passage.py).
COUNT_MATCHES = "SELECT count(*) FROM passages WHERE user_id = $1 AND search_vector @@ {tsquery}"


async def count_matches(pool: asyncpg.Pool, user_id: uuid.UUID, timing: QueryTiming) -> None:
    """How many of the user's passages the query matched, and in which reading: retrieve falls
    back to "any" word when no passage has them all."""
    for mode, tsquery in (("all", MATCH_ALL), ("any", MATCH_ANY)):
        matched: int = await pool.fetchval(
            COUNT_MATCHES.format(tsquery=tsquery), user_id, timing.query.text
        )
        timing.mode, timing.matched = mode, matched
        if matched:
            return


@dataclass(frozen=True)
class Plan:
    reading: str
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


INDEX_NODE = re.compile(r"(?:Bitmap Index Scan|Index Scan|Index Only Scan) (?:on|using) (\w+)")


def indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" ->"))


async def explain_query(
    engine: AsyncEngine, sessions: Sessions, pool: asyncpg.Pool, user_id: uuid.UUID, query: str
) -> list[Plan]:
    """EXPLAIN (ANALYZE, BUFFERS) of each search statement retrieve sends for `query`: the
    statement text and parameters are captured on their way to the driver."""
    with statements_sent(engine, "ts_headline") as sent:
        async with sessions() as session:
            await retrieve(session, user_id, query, limit=SEARCH_LIMIT)
    plans = []
    for statement, parameters in sent:
        rows = await pool.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *parameters)
        reading = "all" if "websearch_to_tsquery" in statement else "any"
        plans.append(Plan(reading, [row[0] for row in rows]))
    return plans


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


async def take_apart(pool: asyncpg.Pool, user_id: uuid.UUID, timing: QueryTiming) -> list[float]:
    """Seconds for each of RANKING_STEPS in the reading retrieve used: median of 3, warm."""
    tsquery = MATCH_ALL if timing.mode == "all" else MATCH_ANY
    medians = []
    for _, step in RANKING_STEPS:
        statement = f"WITH q AS (SELECT {tsquery} AS tsq) " + step.format(match=USERS_MATCHES)
        await pool.fetch(statement, user_id, timing.query.text)
        seconds = []
        for _ in range(3):
            started = time.perf_counter()
            await pool.fetch(statement, user_id, timing.query.text)
            seconds.append(time.perf_counter() - started)
        medians.append(median(seconds))
    return medians


@dataclass(frozen=True)
class SearchResults:
    corpus: Corpus
    owner: list[QueryTiming]
    other: list[QueryTiming]
    plans: list[Plan]
    other_plans: list[Plan]
    steps: list[float]

    @property
    def slowest(self) -> QueryTiming:
        return max(self.owner, key=median_ms)


async def measure_search(
    engine: AsyncEngine, sessions: Sessions, pool: asyncpg.Pool, settings: Settings
) -> SearchResults:
    corpus = await load_corpus(pool, settings.tokenizer_encoding)
    queries = search_queries()
    owner = await time_queries(sessions, corpus.owner, queries, corpus.transcript_ids(corpus.owner))
    other = await time_queries(sessions, corpus.other, queries, corpus.transcript_ids(corpus.other))
    for timing in owner:
        await count_matches(pool, corpus.owner, timing)
    slowest = max(owner, key=median_ms)
    text = slowest.query.text
    return SearchResults(
        corpus,
        owner,
        other,
        plans=await explain_query(engine, sessions, pool, corpus.owner, text),
        other_plans=await explain_query(engine, sessions, pool, corpus.other, text),
        steps=await take_apart(pool, corpus.owner, slowest),
    )


# --- 3. chat and 4. hit@5 --------------------------------------------------------------------


class TimedModel:
    """OfflineExtractiveModel, with the time its completions took."""

    def __init__(self, settings: Settings) -> None:
        self.inner = OfflineExtractiveModel(settings)
        self.provider = self.inner.provider
        self.model = self.inner.model
        self.extractive = self.inner.extractive
        self.seconds: list[float] = []

    async def complete(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> Completion:
        started = time.perf_counter()
        completion = await self.inner.complete(messages, passages)
        self.seconds.append(time.perf_counter() - started)
        return completion

    def stream(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> AsyncGenerator[StreamEvent, None]:
        return self.inner.stream(messages, passages)


def talk_transcript(talk: Talk) -> NewTranscript:
    segments = [
        Segment(str(s["text"]), float(s["start"]), float(s["duration"])) for s in talk.segments()
    ]
    return NewTranscript(video_id=talk.video_id, segments=segments, title=talk.title)


@dataclass
class ChatResults:
    round_trips: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    retrieval: list[float] = field(default_factory=list)
    grounded: int = 0
    hits_at_5: int = 0
    misses: list[str] = field(default_factory=list)


async def round_trip(
    sessions: Sessions,
    settings: Settings,
    model: TimedModel,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    question: str,
    results: ChatResults,
) -> None:
    """One question as the messages endpoint handles it, in one unit of work, step by step."""
    marks = [time.perf_counter()]
    async with units_of_work(sessions)() as session:
        conversation = await ConversationRepository(session).get_for_user(conversation_id, user_id)
        assert conversation is not None
        marks.append(time.perf_counter())
        turn = await start_turn(session, conversation, question, None, settings)
        marks.append(time.perf_counter())
        await answer(session, turn, model)
        marks.append(time.perf_counter())
    marks.append(time.perf_counter())
    results.round_trips.append(marks[-1] - marks[0])
    load, starting, answering, commit = (end - begin for begin, end in itertools.pairwise(marks))
    model_seconds = model.seconds[-1] if turn.grounded else 0.0
    for step, seconds in (
        ("load the conversation", load),
        ("start_turn: history, store the question, retrieve", starting),
        ("answer", answering),
        ("  the offline model", model_seconds),
        ("  storing the answer and its usage", answering - model_seconds),
        ("commit", commit),
    ):
        results.steps[step].append(seconds)
    results.grounded += turn.grounded


async def time_retrieval(
    sessions: Sessions, settings: Settings, user_id: uuid.UUID, question: str
) -> float:
    async with sessions() as session:
        started = time.perf_counter()
        await retrieve(session, user_id, question, limit=settings.chat_context_chunks)
        return time.perf_counter() - started


async def measure_chat(sessions: Sessions, settings: Settings, pool: asyncpg.Pool) -> ChatResults:
    """The labelled talks for a new user, CHAT_TURNS questions to them, then hit@5."""
    user_id = await new_user(pool)
    unit_of_work = units_of_work(sessions)
    async with unit_of_work() as session:
        for talk in TALKS:
            await store_transcript(session, user_id, talk_transcript(talk), settings)
        warm_up = await ConversationRepository(session).create(user_id=user_id)
        conversation = await ConversationRepository(session).create(user_id=user_id)
    model = TimedModel(settings)
    results = ChatResults()
    await round_trip(
        sessions, settings, model, user_id, warm_up.id, QUESTIONS[0].text, ChatResults()
    )
    for question in itertools.islice(itertools.cycle(QUESTIONS), CHAT_TURNS):
        await round_trip(
            sessions, settings, model, user_id, conversation.id, question.text, results
        )
        results.retrieval.append(await time_retrieval(sessions, settings, user_id, question.text))
    for question in QUESTIONS:
        async with sessions() as session:
            top = (await retrieve(session, user_id, question.text, limit=5)).hits
        if any(answers(question, r.hit.youtube_video_id, r.hit.chunk_text) for r in top):
            results.hits_at_5 += 1
        else:
            results.misses.append(question.text)
    return results


# --- report ----------------------------------------------------------------------------------


def ingestion_table(runs: Sequence[IngestRun], settings: Settings, tokenizer_load: float) -> Table:
    table = Table(
        title="1. Ingesting a 3-hour video: enqueue_ingest, then IngestWorker.run_once (replay)",
        caption=(
            f"Chunking: {settings.chunk_tokens} tokens, {settings.chunk_overlap:.0%} overlap, "
            f"{settings.tokenizer_encoding}. fetch+parse: the fetcher's fetch (replayed requests, "
            "no network; XML parsing). chunking: chunk_segments alone on the same captions. "
            "SQL: the statements' round trips. rest: sessions, pool pre-pings, ORM, thread "
            "hand-offs, and the garbage collector's pauses inside the worker's chunking (below "
            "zero when the separate chunking run was the slower). Loading the "
            f"tokenizer took {tokenizer_load:.2f} s (once per process, before these runs; a "
            "worker's first job pays it)."
        ),
    )
    table.add_column("")
    for run_ in runs:
        table.add_column(run_.video_id, justify="right")
    table.add_column("median", justify="right")
    table.add_column("share", justify="right")
    total = median([r.seconds for r in runs])
    for label, value, is_time in INGEST_ROWS:
        values = [value(r) for r in runs]
        cell = seconds_cell if is_time else count_cell
        share = f"{median(values) / total:.0%}" if is_time else ""
        table.add_row(label, *map(cell, values), cell(median(values)), share)
    return table


def seconds_cell(value: float) -> str:
    return f"{value:.3f}"


def count_cell(value: float) -> str:
    return f"{value:,.0f}"


INGEST_ROWS: tuple[tuple[str, Callable[[IngestRun], float], bool], ...] = (
    ("captions", lambda r: r.captions, False),
    ("words", lambda r: r.words, False),
    ("segments JSON in transcripts.metadata, kB", lambda r: r.segments_json_kb, False),
    ("chunks", lambda r: r.chunks, False),
    ("chunks/s", lambda r: r.chunks / r.seconds, False),
    ("enqueue -> done, s", lambda r: r.seconds, True),
    ("  fetch+parse, s", lambda r: r.fetch, True),
    ("  chunking, s", lambda r: r.chunking, True),
    ("  SQL INSERT transcripts, s", lambda r: r.sql.get("transcripts", 0.0), True),
    ("  SQL INSERT chunks, s", lambda r: r.sql.get("chunks", 0.0), True),
    ("  SQL INSERT passages, s", lambda r: r.sql.get("passages", 0.0), True),
    ("  SQL on jobs (enqueue, claim, done), s", lambda r: r.sql.get("jobs", 0.0), True),
    ("  SQL other, s", lambda r: r.sql.get("other", 0.0), True),
    ("  commits, s", lambda r: r.commits, True),
    ("  rest, s", lambda r: r.rest, True),
    ("GC pauses, within the rows above, s", lambda r: sum(s for _, s in r.gc_pauses), True),
    ("full (generation 2) collections", lambda r: sum(g == 2 for g, _ in r.gc_pauses), False),
)


def load_table(corpus: Corpus) -> Table:
    table = Table(
        title="2a. The search corpus (COPY from 2 connections, then VACUUM ANALYZE)",
        caption=(
            f"PostgreSQL {corpus.sizes['version']}, "
            f"shared_buffers {corpus.sizes['shared_buffers']}. "
            "Transcripts carry a placeholder text (search never reads it)."
        ),
    )
    headers = (
        "transcripts", "chunks", "passages", "avg tokens", "load s", "chunks/s",
        "VACUUM ANALYZE s", "heap", "GIN index", "table + indexes", "passages + indexes",
    )  # fmt: skip
    for header in headers:
        table.add_column(header, justify="right")
    owned = len(corpus.transcript_ids(corpus.owner))
    table.add_row(
        f"{len(corpus.transcripts):,} ({owned:,} + {len(corpus.transcripts) - owned:,})",
        f"{corpus.chunks:,}",
        f"{corpus.passages:,}",
        f"{corpus.tokens / corpus.chunks:.0f}",
        f"{corpus.load_seconds:.1f}",
        f"{corpus.chunks / corpus.load_seconds:,.0f}",
        f"{corpus.vacuum_seconds:.1f}",
        corpus.sizes["heap"],
        corpus.sizes["gin"],
        corpus.sizes["total"],
        corpus.sizes["passages_total"],
    )
    return table


def all_seconds(timings: Sequence[QueryTiming]) -> list[float]:
    return [seconds for timing in timings for seconds in timing.seconds]


def median_ms(timing: QueryTiming) -> float:
    return median(timing.seconds) * 1000


def latency_table(results: SearchResults) -> Table:
    table = Table(
        title=f"2b. retrieve(limit={SEARCH_LIMIT}) latency, 50 queries x {SEARCH_PASSES} passes",
        caption=(
            "A session per query (BEGIN, the search or two, ROLLBACK), after a warm-up pass. "
            "Every hit was checked to be the searching user's own."
        ),
    )
    for header in ("user", "chunks", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms", "mean ms"):
        table.add_column(header, justify="left" if header == "user" else "right")
    owner_chunks = len(results.corpus.transcript_ids(results.corpus.owner)) * CHUNKS_PER_TRANSCRIPT
    users = (
        ("owner", owner_chunks, results.owner),
        ("second user", results.corpus.chunks - owner_chunks, results.other),
    )
    for label, chunks, timings in users:
        samples = all_seconds(timings)
        table.add_row(
            label,
            f"{chunks:,}",
            str(len(samples)),
            *(f"{percentile_ms(samples, q):.1f}" for q in (0.5, 0.95, 0.99)),
            f"{max(samples) * 1000:.1f}",
            f"{statistics.fmean(samples) * 1000:.1f}",
        )
    return table


def kinds_table(results: SearchResults) -> Table:
    table = Table(title="2c. By kind of query (the owner; median of each query's timed passes)")
    for header in ("kind", "queries", "median ms", "max ms", "matched chunks (median)", "reading"):
        table.add_column(header, justify="left" if header in ("kind", "reading") else "right")
    by_kind: dict[str, list[QueryTiming]] = defaultdict(list)
    for timing in results.owner:
        by_kind[timing.query.kind].append(timing)
    for kind, timings in by_kind.items():
        medians = [median_ms(t) for t in timings]
        modes = ", ".join(sorted({t.mode for t in timings}))
        table.add_row(
            kind,
            str(len(timings)),
            f"{median(medians):.1f}",
            f"{max(medians):.1f}",
            f"{median([t.matched for t in timings]):,.0f}",
            modes,
        )
    return table


def slowest_table(results: SearchResults) -> Table:
    table = Table(
        title=f"2d. The {SLOWEST_SHOWN} slowest queries (owner)",
        caption='reading "any": no chunk had every word, so retrieve searched again for any.',
    )
    for header in ("query", "kind", "median ms", "second user ms", "hits", "matched", "reading"):
        table.add_column(
            header, justify="left" if header in ("query", "kind", "reading") else "right"
        )
    other = {t.query.text: t for t in results.other}
    ranked = sorted(results.owner, key=lambda t: median_ms(t), reverse=True)
    for timing in ranked[:SLOWEST_SHOWN]:
        table.add_row(
            timing.query.text,
            timing.query.kind,
            f"{median_ms(timing):.1f}",
            f"{median_ms(other[timing.query.text]):.1f}",
            str(timing.hits),
            f"{timing.matched:,}",
            timing.mode,
        )
    return table


def print_plans(console: Console, results: SearchResults) -> None:
    slowest = results.slowest
    console.print(
        f"2e. EXPLAIN (ANALYZE, BUFFERS) of the slowest query, {slowest.query.text!r}, with the "
        "SQL and parameters retrieve sent (a second run: caches warm):",
        markup=False,
    )
    for user, plans in (("owner", results.plans), ("second user", results.other_plans)):
        for plan in plans:
            gin = "ix_chunks_search_vector" in plan.indexes
            console.print(
                f'  {user}, reading "{plan.reading}": {plan.execution}; GIN index '
                f"{'used' if gin else 'NOT used'}; indexes: {', '.join(plan.indexes)}",
                markup=False,
                highlight=False,
            )
    ranked = results.plans[-1]
    console.print(
        f'The owner\'s "{ranked.reading}" plan, from the Limit of the CTE that finds and ranks:',
        markup=False,
    )
    for line in ranked.ranking():
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def steps_table(results: SearchResults) -> Table:
    slowest = results.slowest
    table = Table(
        title=f'2f. The slowest query taken apart (owner, reading "{slowest.mode}", '
        f"{slowest.matched:,} matching chunks)",
        caption="Raw asyncpg, the same WHERE as retrieve; median of 3 after a warm-up.",
    )
    table.add_column("step")
    table.add_column("ms", justify="right")
    for (label, _), seconds in zip(RANKING_STEPS, results.steps, strict=True):
        table.add_row(label, f"{seconds * 1000:.1f}")
    table.add_row(
        "retrieve() as timed in 2d (+ headlines, coverage, join)", f"{median_ms(slowest):.1f}"
    )
    return table


CHAT_SETTINGS = get_settings()


def chat_table(results: ChatResults) -> Table:
    table = Table(
        title=f"3. Offline chat round trip: {len(results.round_trips)} questions, one conversation",
        caption=(
            "Each question a unit of work of its own. 'retrieval alone': retrieve with the chat's "
            f"settings ({CHAT_SETTINGS.chat_context_chunks} chunks, lexical: no vectors), "
            "timed separately after each turn. "
            f"{results.grounded} of {len(results.round_trips)} answers were grounded."
        ),
    )
    for header in ("step", "p50 ms", "p99 ms", "max ms", "mean ms"):
        table.add_column(header, justify="left" if header == "step" else "right")
    rows = [("round trip", results.round_trips), *results.steps.items()]
    rows.append(("retrieval alone", results.retrieval))
    for label, seconds in rows:
        table.add_row(
            label,
            f"{percentile_ms(seconds, 0.5):.1f}",
            f"{percentile_ms(seconds, 0.99):.1f}",
            f"{max(seconds) * 1000:.1f}",
            f"{statistics.fmean(seconds) * 1000:.1f}",
            end_section=label == "round trip",
        )
    return table


def print_report(
    ingestion: tuple[list[IngestRun], float],
    search: SearchResults,
    chat: ChatResults,
    settings: Settings,
) -> None:
    console = report_console()
    console.print(ingestion_table(ingestion[0], settings, ingestion[1]))
    console.print(load_table(search.corpus))
    console.print(latency_table(search))
    console.print(kinds_table(search))
    console.print(slowest_table(search))
    print_plans(console, search)
    console.print(steps_table(search))
    console.print(chat_table(chat))
    score = chat.hits_at_5 / len(QUESTIONS)
    verdict = "PASS" if score >= HIT_AT_5_FLOOR else "FAIL"
    console.print(
        f"4. hit@5 on the labelled set ({len(TALKS)} talks, {CHUNK_TOKENS}-token chunks): "
        f"{score:.2f} ({chat.hits_at_5}/{len(QUESTIONS)}), floor {HIT_AT_5_FLOOR}: {verdict}; "
        f"misses: {chat.misses}",
        markup=False,
    )


# --- entry point -----------------------------------------------------------------------------


async def benchmark() -> None:
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    async with throwaway_database(server_url()) as database_url:
        settings = Settings(database_url=database_url, db_pool_size=POOL_SIZE, db_max_overflow=0)
        chat_settings = settings.model_copy(
            update={"chunk_tokens": CHUNK_TOKENS, "chunk_overlap": LABELLED_OVERLAP}
        )
        async with application_engine(settings) as engine, asyncpg_pool(database_url) as pool:
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            ingestion = await measure_ingestion(engine, sessions, settings, await new_user(pool))
            search = await measure_search(engine, sessions, pool, settings)
            chat = await measure_chat(sessions, chat_settings, pool)
    print_report(ingestion, search, chat, settings)
    report_console().print(
        f"{os.cpu_count()} cores; load average {load_before:.2f} before the run and "
        f"{os.getloadavg()[0]:.2f} at the end (other work on the machine skews every figure). "
        f"Took {time.perf_counter() - started:.0f} s.",
        markup=False,
    )


def main() -> None:
    run_database_benchmark(benchmark)


if __name__ == "__main__":
    main()
