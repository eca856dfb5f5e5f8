"""How fast the repository layer is next to raw asyncpg running the same SQL, and where the
difference goes.

Measured in ops/s, each side at concurrency 1 and 10 (that many tasks, each taking its own
session or connection from a pool of 10 for every operation):

- `SessionRepository.create` (session, create, commit: a login's write) vs
  `INSERT INTO sessions ... RETURNING *`;
- `UserRepository.get_by_id` (a session per lookup) vs `SELECT * FROM users WHERE id = $1`;
- `MessageRepository.get_last_n(conversation, 20)` on a 10,000-message conversation vs the same
  `SELECT ... ORDER BY created_at DESC, id DESC LIMIT 20`;
- `ChunkRepository.create_many` of 1,000 ~1 KB chunks, committed, in chunks/s at concurrency 1,
  vs asyncpg `executemany` and `copy_records_to_table` into the same database.

The two reads run in two session configurations, both against the same asyncpg figures:

- `[app defaults]`: the application's engine (`build_engine`, pool pre-ping on) and a
  transaction per session, committed at the end: what `get_db()` and `unit_of_work()` give;
- `[read_only]`: the read-only engine behind `app.db.session.read_only()` and the API's reads
  (`get_read_db()`), whose connections are in AUTOCOMMIT from the start, without pre-ping:
  the query's own round trip and nothing else. The targets are measured here. On this engine
  both reads are HotReads (app/db/repositories/hot.py): the statement goes straight to the
  session's asyncpg connection (asyncpg's prepared-statement cache, no SQLAlchemy execution),
  and get_by_id makes the User from the row and adds it to the session itself.

On a quiet machine (three runs, 2 cores): get_by_id [read_only] 0.73-0.74 at concurrency 1
and 0.29-0.31 at 10, get_last_n [read_only] 0.74-0.75 and 0.38-0.39, against 0.52 / 0.18
and 0.55 / 0.27 through the ORM and SQLAlchemy's execution before. At 10 the client's CPU
sets the ratio, and the session's own work per lookup (open, connection, close) is about
asyncpg's whole call.

Before measuring, a probe records the statements each configuration sends around one
get_by_id (asyncpg's query logger, on engines of its own): BEGIN, ';', ROLLBACK (the ping,
which SQLAlchemy's asyncpg dialect wraps in a transaction), BEGIN, COMMIT on the app's engine,
none on the read-only one. `create` runs with the app defaults only: a write needs its
transaction.

`create_many` runs on two databases in the same run: `[head: with search_vector]`, where
PostgreSQL computes the generated `chunks.search_vector` (to_tsvector('english', chunk_text),
GIN-indexed) for every row inserted, and `[0003: without]`, migrated only to revision 0003,
before that column existed. The report ends with each target's verdict per configuration and a
paragraph that turns this run's figures at concurrency 1 into time per call: what the
transaction, the ping and SQLAlchemy's own work each cost, and what the column costs inserts.

The asyncpg side uses `asyncpg.create_pool` as it comes. Both run on uvloop when it is installed.
All sides of one measurement take turns in short slices (create_many: rounds of one batch each),
and each side's rate is the median slice's, so a change in machine load hits all sides alike and
a burst of other work moves the figures little; the caption shows the load average before the
run, as other work on the machine still skews every figure. Everything happens in throw-away
databases, migrated and dropped at the end, on the server BENCH_DATABASE_URL or
TEST_DATABASE_URL names, else on an embedded PostgreSQL in backend/.data/postgres-bench. Takes
about a minute and a half:

    cd backend && .venv/bin/python -m benchmarks.repositories
"""

import asyncio
import json
import os
import random
import statistics
import string
import textwrap
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from alembic import command
from app.core.config import BACKEND_DIR, Settings, to_asyncpg_url
from app.db.embedded import start_embedded_postgres
from app.db.migrations import alembic_config
from app.db.models import User
from app.db.repositories import (
    ChunkRepository,
    MessageRepository,
    NewChunk,
    SessionRepository,
    UserRepository,
)
from app.db.repositories.base import primary_key_read
from app.db.session import build_engine
from tests.database import create_database, drop_database

BENCH_SERVER_DIR = BACKEND_DIR / ".data" / "postgres-bench"

CONCURRENCIES = (1, 10)
POOL_SIZE = max(CONCURRENCIES)
MEASURE_SECONDS = 2.4  # per side and measurement, split into slices
MEASURE_MAX_OPS = 40_000
SLICES = 8
WARMUP_SECONDS = 0.3
WARMUP_OPS_PER_TASK = 30

SEEDED_USERS = 10_000
CONVERSATION_MESSAGES = 10_000
LAST_N = 20
CHUNKS_PER_ROUND = 1_000
CHUNK_TEXT_BYTES = 1_000
CHUNK_WARMUP_ROUNDS = 1
CHUNK_MAX_ROUNDS = 20
VOCABULARY_SIZE = 5_000

# On the path the API reads by (read_only): at concurrency 1 and at 10.
READ_MIN_RATIO = {1: 0.6, 10: 0.4}
CREATE_MANY_MIN_CHUNKS_PER_SECOND = 20_000

# Session configurations, as the rows name them.
APP_DEFAULTS = "app defaults"
READ_ONLY = "read_only"
# Schemas create_many runs on: head, and the last revision before chunks.search_vector.
HEAD_REVISION = "head"
OLD_REVISION = "0003"
HEAD_SCHEMA = "head: with search_vector"
OLD_SCHEMA = "0003: without"

PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$" + "x" * 64
CHUNK_COLUMNS = (
    "id",
    "transcript_id",
    "user_id",
    "chunk_index",
    "chunk_text",
    "token_count",
    "metadata",
)

INSERT_USER = "INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING *"
INSERT_SESSION = (
    "INSERT INTO sessions (user_id, token_hash, expires_at) VALUES ($1, $2, $3) RETURNING *"
)
SELECT_USER = "SELECT * FROM users WHERE id = $1"
SELECT_LAST_MESSAGES = (
    "SELECT * FROM messages WHERE conversation_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
)
INSERT_CHUNK = (
    "INSERT INTO chunks (id, transcript_id, user_id, chunk_index, chunk_text, token_count, "
    "metadata) VALUES ($1, $2, $3, $4, $5, $6, $7)"
)

Operation = Callable[[], Awaitable[object]]
ChunkInsert = Callable[[list[NewChunk]], Awaitable[object]]
Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class SessionKind:
    """One way of opening a session: a configuration the reads are measured in."""

    label: str
    engine: AsyncEngine
    sessions: Sessions
    commits: bool  # a transaction per session, committed at the end (unit_of_work's contract)


@dataclass(frozen=True)
class Seed:
    owner_id: uuid.UUID
    user_ids: list[uuid.UUID]
    conversation_id: uuid.UUID


@dataclass(frozen=True)
class ChunkDatabase:
    """A database create_many is measured on, with the three ways of inserting into it."""

    schema: str
    pool: asyncpg.Pool
    owner_id: uuid.UUID
    repository: ChunkInsert
    executemany: ChunkInsert
    copy: ChunkInsert


@dataclass
class Tally:
    """Work done and the time it took, slice by slice (or round by round), in one measurement."""

    slices: list[tuple[int, float]] = field(default_factory=list)

    def add(self, ops: int, seconds: float) -> None:
        self.slices.append((ops, seconds))

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.slices)

    @property
    def rate(self) -> float:
        """The median slice's rate: a burst of other work on the machine moves it less than
        it moves the mean."""
        return statistics.median(ops / seconds for ops, seconds in self.slices)


@dataclass(frozen=True)
class Result:
    operation: str
    configuration: str  # the session configuration, or for create_many the schema
    concurrency: int
    repository: float
    asyncpg: float
    baseline: str = ""  # create_many: the asyncpg way of inserting compared against

    @property
    def ratio(self) -> float:
        return self.repository / self.asyncpg

    @property
    def label(self) -> str:
        label = f"{self.operation} [{self.configuration}]"
        return f"{label} vs {self.baseline}" if self.baseline else label


@dataclass(frozen=True)
class Report:
    results: list[Result]
    # Per read configuration, the statements sent around the query (statements_around_a_read).
    statements: dict[str, list[str]]


# --- server and database ---------------------------------------------------------------------


def server_url() -> str:
    """The configured server, else the embedded one (its own data folder, not the tests')."""
    for variable in ("BENCH_DATABASE_URL", "TEST_DATABASE_URL"):
        configured = os.environ.get(variable, "").strip()
        if configured:
            return to_asyncpg_url(configured)
    return start_embedded_postgres(BENCH_SERVER_DIR)


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(False)


def migrate(database_url: str, revision: str) -> None:
    # Alembic's env.py runs its own event loop: call this from a thread of its own.
    command.upgrade(alembic_config(database_url), revision)


@asynccontextmanager
async def throwaway_database(server: str, revision: str = HEAD_REVISION) -> AsyncIterator[str]:
    database_url = await create_database(server, prefix="ytt_bench")
    try:
        await asyncio.to_thread(migrate, database_url, revision)
        yield database_url
    finally:
        await drop_database(database_url)


@asynccontextmanager
async def app_engine(
    database_url: str,
    *,
    pre_ping: bool = True,
    pool_size: int = POOL_SIZE,
    autocommit: bool = False,
) -> AsyncIterator[AsyncEngine]:
    """The application's engine (or, with autocommit, its read-only engine), with the pool
    capped at the highest concurrency."""
    settings = Settings(
        database_url=database_url,
        db_pool_size=pool_size,
        db_max_overflow=0,
        db_pool_pre_ping=pre_ping,
    )
    engine = build_engine(settings, autocommit=autocommit)
    try:
        yield engine
    finally:
        await engine.dispose()


def session_maker(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_kinds(
    database_url: str, pool_size: int = POOL_SIZE
) -> AsyncIterator[list[SessionKind]]:
    """The two configurations, app defaults first."""
    async with (
        app_engine(database_url, pool_size=pool_size) as engine,
        app_engine(database_url, pool_size=pool_size, autocommit=True) as read_only,
    ):
        yield [
            SessionKind(APP_DEFAULTS, engine, session_maker(engine), commits=True),
            SessionKind(READ_ONLY, read_only, session_maker(read_only), commits=False),
        ]


@asynccontextmanager
async def asyncpg_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(
        asyncpg_dsn(database_url), min_size=POOL_SIZE, max_size=POOL_SIZE
    )
    try:
        yield pool
    finally:
        await pool.close()


# --- seed data -------------------------------------------------------------------------------


def unique_email() -> str:
    return f"bench-{uuid.uuid4().hex}@example.com"


async def seed(pool: asyncpg.Pool) -> Seed:
    """Users to look up and one long conversation, written by COPY to keep setup short."""
    user_ids = [uuid.uuid4() for _ in range(SEEDED_USERS)]
    async with pool.acquire() as connection:
        await connection.copy_records_to_table(
            "users",
            records=[(user_id, unique_email(), PASSWORD_HASH) for user_id in user_ids],
            columns=("id", "email", "password_hash"),
        )
        conversation_id = await connection.fetchval(
            "INSERT INTO conversations (user_id, title) VALUES ($1, 'bench') RETURNING id",
            user_ids[0],
        )
        await connection.copy_records_to_table(
            "messages",
            records=message_records(conversation_id),
            columns=("conversation_id", "role", "content", "created_at"),
        )
        # Fresh statistics, so the planner reads the last n straight from the index.
        await connection.execute("ANALYZE")
    return Seed(owner_id=user_ids[0], user_ids=user_ids, conversation_id=conversation_id)


async def seed_owner(pool: asyncpg.Pool) -> uuid.UUID:
    """The one user the chunks of a create_many-only database belong to."""
    owner_id: uuid.UUID = await pool.fetchval(
        "INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id",
        unique_email(),
        PASSWORD_HASH,
    )
    return owner_id


def message_records(conversation_id: uuid.UUID) -> list[tuple[Any, ...]]:
    # At COPY speed the default clock_timestamp() moves by a microsecond or less per row, so
    # rows could tie; timestamps a second apart make the order, and so the last n, well defined.
    first = datetime.now(UTC) - timedelta(days=30)
    return [
        (
            conversation_id,
            "user" if index % 2 == 0 else "assistant",
            f"Message {index}: " + "what the video says about this part " * 8,
            first + timedelta(seconds=index),
        )
        for index in range(CONVERSATION_MESSAGES)
    ]


async def new_transcript(pool: asyncpg.Pool, owner_id: uuid.UUID) -> uuid.UUID:
    transcript_id: uuid.UUID = await pool.fetchval(
        "INSERT INTO transcripts (user_id, youtube_video_id, transcript_text) "
        "VALUES ($1, $2, 'bench') RETURNING id",
        owner_id,
        uuid.uuid4().hex[:11],
    )
    return transcript_id


@cache
def vocabulary() -> list[str]:
    # Many distinct words, as in real transcripts: the cost of chunks.search_vector and of its
    # GIN index grows with the number of distinct lexemes, which a repeated filler would hide.
    words = random.Random(0)
    return [
        "".join(words.choices(string.ascii_lowercase, k=words.randint(3, 9)))
        for _ in range(VOCABULARY_SIZE)
    ]


def chunk_text() -> str:
    return " ".join(random.choices(vocabulary(), k=CHUNK_TEXT_BYTES // 4))[:CHUNK_TEXT_BYTES]


def chunk_batch(transcript_id: uuid.UUID, owner_id: uuid.UUID) -> list[NewChunk]:
    return [
        NewChunk(
            transcript_id=transcript_id,
            user_id=owner_id,
            chunk_index=index,
            chunk_text=chunk_text(),
            token_count=CHUNK_TEXT_BYTES // 4,
        )
        for index in range(CHUNKS_PER_ROUND)
    ]


def chunk_record(chunk: NewChunk) -> tuple[Any, ...]:
    """The row asyncpg sends for a chunk: the same values `NewChunk.as_row` gives the ORM."""
    return (
        uuid.uuid4(),
        chunk.transcript_id,
        chunk.user_id,
        chunk.chunk_index,
        chunk.chunk_text,
        chunk.token_count,
        json.dumps(chunk.metadata),  # asyncpg's jsonb codec takes text
    )


# --- the operations, each side doing one unit of work per call --------------------------------


def session_expiry() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


def repository_create_session(kind: SessionKind, user_id: uuid.UUID) -> Operation:
    async def create_session() -> None:
        async with kind.sessions() as session:
            await SessionRepository(session).create(
                user_id=user_id, token_hash=uuid.uuid4().hex, expires_at=session_expiry()
            )
            await session.commit()

    return create_session


def asyncpg_create_session(pool: asyncpg.Pool, user_id: uuid.UUID) -> Operation:
    async def create_session() -> None:
        await pool.fetchrow(INSERT_SESSION, user_id, uuid.uuid4().hex, session_expiry())

    return create_session


def repository_get_user(kind: SessionKind, user_ids: Sequence[uuid.UUID]) -> Operation:
    async def get_user() -> None:
        async with kind.sessions() as session:
            await UserRepository(session).get_by_id(random.choice(user_ids))
            if kind.commits:
                await session.commit()

    return get_user


def asyncpg_get_user(pool: asyncpg.Pool, user_ids: Sequence[uuid.UUID]) -> Operation:
    async def get_user() -> None:
        await pool.fetchrow(SELECT_USER, random.choice(user_ids))

    return get_user


def repository_last_messages(kind: SessionKind, conversation_id: uuid.UUID) -> Operation:
    async def last_messages() -> None:
        async with kind.sessions() as session:
            await MessageRepository(session).get_last_n(conversation_id, LAST_N)
            if kind.commits:
                await session.commit()

    return last_messages


def asyncpg_last_messages(pool: asyncpg.Pool, conversation_id: uuid.UUID) -> Operation:
    async def last_messages() -> None:
        # Oldest first, as get_last_n returns them.
        list(reversed(await pool.fetch(SELECT_LAST_MESSAGES, conversation_id, LAST_N)))

    return last_messages


def repository_create_chunks(sessions: Sessions) -> ChunkInsert:
    async def create_chunks(chunks: list[NewChunk]) -> None:
        async with sessions() as session:
            await ChunkRepository(session).create_many(chunks)
            await session.commit()

    return create_chunks


def asyncpg_executemany_chunks(pool: asyncpg.Pool) -> ChunkInsert:
    async def insert_chunks(chunks: list[NewChunk]) -> None:
        # executemany is atomic: one implicit transaction for the whole batch.
        await pool.executemany(INSERT_CHUNK, [chunk_record(chunk) for chunk in chunks])

    return insert_chunks


def asyncpg_copy_chunks(pool: asyncpg.Pool) -> ChunkInsert:
    async def copy_chunks(chunks: list[NewChunk]) -> None:
        async with pool.acquire() as connection:
            await connection.copy_records_to_table(
                "chunks", records=[chunk_record(chunk) for chunk in chunks], columns=CHUNK_COLUMNS
            )

    return copy_chunks


def chunk_database(
    schema: str, sessions: Sessions, pool: asyncpg.Pool, owner_id: uuid.UUID
) -> ChunkDatabase:
    return ChunkDatabase(
        schema=schema,
        pool=pool,
        owner_id=owner_id,
        repository=repository_create_chunks(sessions),
        executemany=asyncpg_executemany_chunks(pool),
        copy=asyncpg_copy_chunks(pool),
    )


# --- measuring -------------------------------------------------------------------------------


async def run_tasks(operation: Operation, concurrency: int, max_ops: int, seconds: float) -> int:
    """Run `operation` from `concurrency` tasks until `max_ops` or `seconds`; ops completed."""
    deadline = time.perf_counter() + seconds
    # One shared iterator hands out the op budget, so fast tasks take more of it.
    budget = iter(range(max_ops))

    async def task() -> int:
        completed = 0
        for _ in budget:
            if time.perf_counter() >= deadline:
                break
            await operation()
            completed += 1
        return completed

    return sum(await asyncio.gather(*(task() for _ in range(concurrency))))


async def measure_slice(operation: Operation, concurrency: int, tally: Tally) -> None:
    started = time.perf_counter()
    completed = await run_tasks(
        operation, concurrency, MEASURE_MAX_OPS // SLICES, MEASURE_SECONDS / SLICES
    )
    tally.add(completed, time.perf_counter() - started)


async def compare(
    operation: str,
    repositories: Sequence[tuple[str, Operation]],
    raw: Operation,
    concurrency: int,
) -> list[Result]:
    """Each repository configuration's ops/s and asyncpg's, after a warm-up of each, measured
    in slices taken in turns (the order rotating), so all share one asyncpg baseline."""
    sides = [*(side for _, side in repositories), raw]
    for side in sides:
        # Opens the pool's connections and fills the prepared-statement caches.
        await run_tasks(side, concurrency, WARMUP_OPS_PER_TASK * concurrency, WARMUP_SECONDS)
    tallies = [Tally() for _ in sides]
    for turn in range(SLICES):
        for offset in range(len(sides)):
            index = (turn + offset) % len(sides)
            await measure_slice(sides[index], concurrency, tallies[index])
    baseline = tallies[-1].rate
    return [
        Result(operation, label, concurrency, tally.rate, baseline)
        for (label, _), tally in zip(repositories, tallies[:-1], strict=True)
    ]


async def compare_in_kinds(
    operation: str,
    kinds: Sequence[SessionKind],
    repository: Callable[[SessionKind], Operation],
    raw: Operation,
) -> list[Result]:
    """`compare` at every concurrency; rows grouped by configuration, in the order given."""
    sides = [(kind.label, repository(kind)) for kind in kinds]
    results = [
        result
        for concurrency in CONCURRENCIES
        for result in await compare(operation, sides, raw, concurrency)
    ]
    order = [kind.label for kind in kinds]
    return sorted(results, key=lambda result: order.index(result.configuration))


async def statements_around_a_read(database_url: str, user_id: uuid.UUID) -> dict[str, list[str]]:
    """Per configuration, the statements asyncpg's query logger sees during one get_by_id on a
    connection already in use (it logs simple queries, not the prepared SELECT itself): the
    round trips a session adds to the query. Engines of their own, with a pool of one."""
    seen: list[str] = []
    user_read = primary_key_read(User)
    own_query = user_read.read.sql if user_read is not None else ""

    def log_queries(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(lambda query: seen.append(query.query))

    statements = {}
    async with session_kinds(database_url, pool_size=1) as kinds:
        # Two configurations share a pool: listen once per pool.
        for pool in {id(kind.engine.pool): kind.engine.pool for kind in kinds}.values():
            event.listen(pool, "connect", log_queries)
        for kind in kinds:
            get_user = repository_get_user(kind, [user_id])
            await get_user()  # connects, prepares; a fresh connection is not pinged
            seen.clear()
            await get_user()
            await asyncio.sleep(0)  # the logger runs from the event loop, after the query
            # The lookup itself is logged too when it goes straight to asyncpg (a HotRead).
            statements[kind.label] = [query for query in seen if query != own_query]
    return statements


async def measure_single_rows(
    kinds: Sequence[SessionKind], pool: asyncpg.Pool, data: Seed
) -> list[Result]:
    app_defaults = [kind for kind in kinds if kind.label == APP_DEFAULTS]
    return [
        *await compare_in_kinds(
            "create",
            app_defaults,
            lambda kind: repository_create_session(kind, data.owner_id),
            asyncpg_create_session(pool, data.owner_id),
        ),
        *await compare_in_kinds(
            "get_by_id",
            kinds,
            lambda kind: repository_get_user(kind, data.user_ids),
            asyncpg_get_user(pool, data.user_ids),
        ),
        *await compare_in_kinds(
            "get_last_n",
            kinds,
            lambda kind: repository_last_messages(kind, data.conversation_id),
            asyncpg_last_messages(pool, data.conversation_id),
        ),
    ]


async def insert_round(database: ChunkDatabase, tallies: Sequence[Tally]) -> None:
    """One 1,000-chunk batch per way of inserting, each into a new transcript; only the insert
    and its commit are timed."""
    inserts = (database.repository, database.executemany, database.copy)
    for insert, tally in zip(inserts, tallies, strict=True):
        batch = chunk_batch(
            await new_transcript(database.pool, database.owner_id), database.owner_id
        )
        started = time.perf_counter()
        await insert(batch)
        tally.add(len(batch), time.perf_counter() - started)


async def measure_create_many(databases: Sequence[ChunkDatabase]) -> list[Result]:
    """Rounds over every database in turn, until each way has had MEASURE_SECONDS of inserting
    (or CHUNK_MAX_ROUNDS rounds: the fast ways on the old schema would take hundreds)."""
    for _ in range(CHUNK_WARMUP_ROUNDS):
        for database in databases:
            await insert_round(database, [Tally(), Tally(), Tally()])
    tallies = [[Tally(), Tally(), Tally()] for _ in databases]
    for _ in range(CHUNK_MAX_ROUNDS):
        for database, database_tallies in zip(databases, tallies, strict=True):
            await insert_round(database, database_tallies)
        if min(tally.seconds for row in tallies for tally in row) >= MEASURE_SECONDS:
            break
    results: list[Result] = []
    for database, (repository, executemany, copy) in zip(databases, tallies, strict=True):
        results += [
            Result(
                "create_many", database.schema, 1, repository.rate, executemany.rate, "executemany"
            ),
            Result("create_many", database.schema, 1, repository.rate, copy.rate, "COPY"),
        ]
    return results


# --- report ----------------------------------------------------------------------------------

HEADERS = ("operation [configuration]", "concurrency", "repository ops/s", "asyncpg ops/s", "ratio")
REPORT_WIDTH = 116


def verdict(met: bool) -> str:
    return "PASS" if met else "FAIL"


def configurations(results: Sequence[Result], operation: str) -> list[str]:
    """The configurations `operation` ran in, in the order of the rows."""
    return list(dict.fromkeys(r.configuration for r in results if r.operation == operation))


def ratio_targets(results: Sequence[Result], operation: str) -> list[str]:
    """The operation on the API's read path against READ_MIN_RATIO, per concurrency."""
    lines = []
    for result in results:
        if result.operation == operation and result.configuration == READ_ONLY:
            minimum = READ_MIN_RATIO[result.concurrency]
            lines.append(
                f"{operation} [{READ_ONLY}] at concurrency {result.concurrency} >= {minimum}x "
                f"asyncpg: {verdict(result.ratio >= minimum)} ({result.ratio:.2f})"
            )
    return lines


def create_many_rate(results: Sequence[Result], schema: str) -> float:
    return next(
        r.repository for r in results if r.operation == "create_many" and r.configuration == schema
    )


def create_many_target(results: Sequence[Result]) -> str:
    verdicts = []
    for schema in configurations(results, "create_many"):
        rate = create_many_rate(results, schema)
        met = rate >= CREATE_MANY_MIN_CHUNKS_PER_SECOND
        verdicts.append(f"[{schema}] {verdict(met)} ({rate:,.0f})")
    return f"create_many >= {CREATE_MANY_MIN_CHUNKS_PER_SECOND:,} chunks/s: " + ", ".join(verdicts)


def targets(results: Sequence[Result]) -> list[str]:
    return [
        "Targets:",
        *("- " + line for line in ratio_targets(results, "get_by_id")),
        *("- " + line for line in ratio_targets(results, "get_last_n")),
        "- " + create_many_target(results),
    ]


def microseconds(rate: float) -> float:
    """Time per call at concurrency 1, where calls do not overlap."""
    return 1_000_000 / rate


USER_BUILT = "making the User from the row and adding it to the session"


def read_breakdown(results: Sequence[Result], operation: str, built: str) -> str:
    at = {r.configuration: r for r in results if r.operation == operation and r.concurrency == 1}
    app, read_only = (microseconds(at[kind].repository) for kind in (APP_DEFAULTS, READ_ONLY))
    raw = microseconds(at[APP_DEFAULTS].asyncpg)
    return (
        f"{operation} took {app:,.0f} µs per call with the app defaults, {read_only:,.0f} µs "
        f"in read_only (the transaction and the ping: {app - read_only:,.0f} µs), against "
        f"{raw:,.0f} µs through asyncpg, whose call is its one round trip; the "
        f"{read_only - raw:,.0f} µs left are SQLAlchemy's work in Python around the same asyncpg "
        f"call: opening and closing the session, its connection checkout, and {built}"
    )


def statement_list(statements: Sequence[str]) -> str:
    names = [
        "';' (the ping)" if query.strip() == ";" else query.strip().rstrip(";")
        for query in statements
    ]
    return ", ".join(names) or "none"


def round_trips_sentence(statements: dict[str, list[str]]) -> str:
    listed = "; ".join(f"[{kind}] {statement_list(sent)}" for kind, sent in statements.items())
    added = len(statements[APP_DEFAULTS]) - len(statements[READ_ONLY])
    return (
        "Round trips a session adds to the query, as asyncpg logged them around one get_by_id: "
        f"{listed}. The transaction and the pre-ping add {added}; read_only sessions have "
        "neither. "
    )


def explanation(report: Report) -> str:
    """Where the time goes, in figures from this run."""
    results = report.results

    def asyncpg_rate(schema: str, baseline: str) -> float:
        return next(
            r.asyncpg
            for r in results
            if r.operation == "create_many" and r.configuration == schema and r.baseline == baseline
        )

    return (
        "Where the time goes. "
        + round_trips_sentence(report.statements)
        + "At concurrency 1, calls one after the other: "
        f"{read_breakdown(results, 'get_by_id', USER_BUILT)}; "
        f"{read_breakdown(results, 'get_last_n', f'{LAST_N} plain rows (MessageRow)')}. "
        "At concurrency 10 one task's round trips overlap with the others' Python work on "
        "the two cores, so that work, more than the waiting, sets the ratio there. "
        "create_many: on the head schema PostgreSQL computes to_tsvector('english', chunk_text) "
        "for every row inserted and adds its lexemes to the GIN index on search_vector, which "
        "no client can skip: asyncpg reaches "
        f"{asyncpg_rate(HEAD_SCHEMA, 'executemany'):,.0f} chunks/s with executemany and "
        f"{asyncpg_rate(HEAD_SCHEMA, 'COPY'):,.0f} with COPY there, against "
        f"{asyncpg_rate(OLD_SCHEMA, 'executemany'):,.0f} and "
        f"{asyncpg_rate(OLD_SCHEMA, 'COPY'):,.0f} on 0003 without the column; the repository's "
        f"{create_many_rate(results, HEAD_SCHEMA):,.0f} and "
        f"{create_many_rate(results, OLD_SCHEMA):,.0f} chunks/s add building the rows in Python "
        "and passing them through the ORM's bulk insert (no RETURNING)."
    )


def table_rows(results: Sequence[Result]) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            result.label,
            str(result.concurrency),
            f"{result.repository:,.0f}",
            f"{result.asyncpg:,.0f}",
            f"{result.ratio:.2f}",
        )
        for result in results
    ]


def print_report(report: Report, caption: str) -> None:
    rows = table_rows(report.results)
    summary = targets(report.results)
    paragraph = explanation(report)
    try:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text
    except ImportError:
        print_plain(rows, caption, summary, paragraph)
        return
    table = Table(title="Repository layer vs raw asyncpg (ratio = repository / asyncpg)")
    table.caption = caption
    for index, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if index == 0 else "right")
    for row in rows:
        # Text, not str: rich would read "[app defaults]" as markup.
        table.add_row(*(Text(cell) for cell in row))
    console = Console()
    # Piped output defaults to 80 columns, too narrow for the table on one line per row.
    console.width = max(console.width, REPORT_WIDTH)
    console.print(table)
    for line in summary:
        console.print(line, soft_wrap=True, markup=False, highlight=False)
    console.print()
    console.print(paragraph, markup=False, highlight=False)


def print_plain(
    rows: Sequence[Sequence[str]], caption: str, summary: Sequence[str], paragraph: str
) -> None:
    widths = [max(len(line[i]) for line in [HEADERS, *rows]) for i in range(len(HEADERS))]
    for line in [HEADERS, *rows]:
        cells = (
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        print("  ".join(cells))
    print(caption)
    print("\n".join(summary))
    print()
    print(textwrap.fill(paragraph, REPORT_WIDTH))


# --- entry point -----------------------------------------------------------------------------


async def benchmark() -> Report:
    server = server_url()
    async with (
        throwaway_database(server) as database_url,
        session_kinds(database_url) as kinds,
        asyncpg_pool(database_url) as pool,
    ):
        data = await seed(pool)
        statements = await statements_around_a_read(database_url, data.user_ids[0])
        single_rows = await measure_single_rows(kinds, pool, data)
        async with (
            throwaway_database(server, OLD_REVISION) as old_url,
            app_engine(old_url) as old_engine,
            asyncpg_pool(old_url) as old_pool,
        ):
            databases = [
                chunk_database(HEAD_SCHEMA, kinds[0].sessions, pool, data.owner_id),
                chunk_database(
                    OLD_SCHEMA, session_maker(old_engine), old_pool, await seed_owner(old_pool)
                ),
            ]
            create_many = await measure_create_many(databases)
    return Report(single_rows + create_many, statements)


def run(main: Coroutine[Any, Any, Report]) -> Report:
    """Run on uvloop when installed: it speeds up both sides alike."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main() -> None:
    # The embedded server is stopped at exit, outside start_embedded_postgres's own filter.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    caption = (
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} before the run; "
        "create_many in chunks/s"
    )
    print_report(run(benchmark()), caption)


if __name__ == "__main__":
    main()
