"""How fast the repository layer is next to raw asyncpg running the same SQL.

Measured in ops/s, each side at concurrency 1 and 10 (that many tasks, each taking its own
session or connection from a pool of 10 for every operation):

- `UserRepository.create` (session, create, commit) vs `INSERT INTO users ... RETURNING *`;
- `UserRepository.get_by_id` (a session per lookup) vs `SELECT * FROM users WHERE id = $1`;
- `MessageRepository.get_last_n(conversation, 20)` on a 10,000-message conversation vs the same
  `SELECT ... ORDER BY created_at DESC, id DESC LIMIT 20`;
- `ChunkRepository.create_many` of 1,000 ~1 KB chunks, committed, in chunks/s at concurrency 1,
  vs asyncpg `executemany` and `copy_records_to_table`.

The SQLAlchemy engine is the application's own (`build_engine`, pool pre-ping included); the
asyncpg side uses `asyncpg.create_pool` as it comes. Both run on uvloop when it is installed.
The two sides take turns in short slices, so a change in machine load hits both alike; the
caption shows the load average before the run, as other work on the machine skews every figure.
Everything happens in a throw-away database, migrated to head and dropped at the end, on the
server BENCH_DATABASE_URL or TEST_DATABASE_URL names, else on an embedded PostgreSQL in
backend/.data/postgres-bench. Takes under a minute:

    cd backend && .venv/bin/python -m benchmarks.repositories
"""

import asyncio
import json
import os
import random
import string
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import BACKEND_DIR, Settings, to_asyncpg_url
from app.db.embedded import start_embedded_postgres
from app.db.migrations import upgrade_to_head
from app.db.repositories import ChunkRepository, MessageRepository, NewChunk, UserRepository
from app.db.session import build_engine
from tests.database import create_database, drop_database

BENCH_SERVER_DIR = BACKEND_DIR / ".data" / "postgres-bench"

CONCURRENCIES = (1, 10)
POOL_SIZE = max(CONCURRENCIES)
MEASURE_SECONDS = 2.0  # per side and measurement, split into slices
MEASURE_MAX_OPS = 20_000
SLICES = 4
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

GET_BY_ID_MIN_RATIO = 0.5
GET_LAST_N_MIN_RATIO = 0.5
CREATE_MANY_MIN_CHUNKS_PER_SECOND = 20_000

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
class Seed:
    owner_id: uuid.UUID
    user_ids: list[uuid.UUID]
    conversation_id: uuid.UUID


@dataclass
class Tally:
    """Work done and the time it took, summed over the slices of one measurement."""

    ops: int = 0
    seconds: float = 0.0

    def add(self, ops: int, seconds: float) -> None:
        self.ops += ops
        self.seconds += seconds

    @property
    def rate(self) -> float:
        return self.ops / self.seconds


@dataclass(frozen=True)
class Result:
    operation: str
    concurrency: int
    repository: float
    asyncpg: float

    @property
    def ratio(self) -> float:
        return self.repository / self.asyncpg


@dataclass(frozen=True)
class Target:
    description: str
    measured: str
    met: bool


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


@asynccontextmanager
async def throwaway_database(server: str) -> AsyncIterator[str]:
    database_url = await create_database(server, prefix="ytt_bench")
    try:
        # upgrade_to_head runs its own event loop, so it needs a thread of its own.
        await asyncio.to_thread(upgrade_to_head, database_url)
        yield database_url
    finally:
        await drop_database(database_url)


@asynccontextmanager
async def session_factory(database_url: str) -> AsyncIterator[Sessions]:
    """Sessions on the application's engine, with the pool capped at the highest concurrency."""
    settings = Settings(database_url=database_url, db_pool_size=POOL_SIZE, db_max_overflow=0)
    engine = build_engine(settings)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


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


def repository_create_user(sessions: Sessions) -> Operation:
    async def create_user() -> None:
        async with sessions() as session:
            await UserRepository(session).create(email=unique_email(), password_hash=PASSWORD_HASH)
            await session.commit()

    return create_user


def asyncpg_create_user(pool: asyncpg.Pool) -> Operation:
    async def create_user() -> None:
        await pool.fetchrow(INSERT_USER, unique_email(), PASSWORD_HASH)

    return create_user


def repository_get_user(sessions: Sessions, user_ids: Sequence[uuid.UUID]) -> Operation:
    async def get_user() -> None:
        async with sessions() as session:
            await UserRepository(session).get_by_id(random.choice(user_ids))

    return get_user


def asyncpg_get_user(pool: asyncpg.Pool, user_ids: Sequence[uuid.UUID]) -> Operation:
    async def get_user() -> None:
        await pool.fetchrow(SELECT_USER, random.choice(user_ids))

    return get_user


def repository_last_messages(sessions: Sessions, conversation_id: uuid.UUID) -> Operation:
    async def last_messages() -> None:
        async with sessions() as session:
            await MessageRepository(session).get_last_n(conversation_id, LAST_N)

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
    operation: str, repository: Operation, raw: Operation, concurrency: int
) -> Result:
    """Both sides' ops/s, measured in alternating slices after a warm-up of each."""
    sides = (repository, raw)
    for side in sides:
        # Opens the pool's connections and fills the prepared-statement caches.
        await run_tasks(side, concurrency, WARMUP_OPS_PER_TASK * concurrency, WARMUP_SECONDS)
    tallies = (Tally(), Tally())
    for _ in range(SLICES):
        for side, tally in zip(sides, tallies, strict=True):
            await measure_slice(side, concurrency, tally)
    return Result(operation, concurrency, tallies[0].rate, tallies[1].rate)


async def measure_single_rows(sessions: Sessions, pool: asyncpg.Pool, data: Seed) -> list[Result]:
    pairs = [
        ("create", repository_create_user(sessions), asyncpg_create_user(pool)),
        (
            "get_by_id",
            repository_get_user(sessions, data.user_ids),
            asyncpg_get_user(pool, data.user_ids),
        ),
        (
            "get_last_n",
            repository_last_messages(sessions, data.conversation_id),
            asyncpg_last_messages(pool, data.conversation_id),
        ),
    ]
    return [
        await compare(name, repository, raw, concurrency)
        for name, repository, raw in pairs
        for concurrency in CONCURRENCIES
    ]


async def insert_round(
    inserts: Sequence[ChunkInsert], tallies: Sequence[Tally], pool: asyncpg.Pool, owner: uuid.UUID
) -> None:
    """One 1,000-chunk batch per way of inserting, each into a new transcript; only the insert
    and its commit are timed."""
    for insert, tally in zip(inserts, tallies, strict=True):
        batch = chunk_batch(await new_transcript(pool, owner), owner)
        started = time.perf_counter()
        await insert(batch)
        tally.add(len(batch), time.perf_counter() - started)


async def measure_create_many(sessions: Sessions, pool: asyncpg.Pool, data: Seed) -> list[Result]:
    inserts = (
        repository_create_chunks(sessions),
        asyncpg_executemany_chunks(pool),
        asyncpg_copy_chunks(pool),
    )
    for _ in range(CHUNK_WARMUP_ROUNDS):
        await insert_round(inserts, [Tally() for _ in inserts], pool, data.owner_id)
    repository, executemany, copy = tallies = (Tally(), Tally(), Tally())
    for _ in range(CHUNK_MAX_ROUNDS):
        await insert_round(inserts, tallies, pool, data.owner_id)
        if min(tally.seconds for tally in tallies) >= MEASURE_SECONDS:
            break
    return [
        Result("create_many, chunks/s vs executemany", 1, repository.rate, executemany.rate),
        Result("create_many, chunks/s vs COPY", 1, repository.rate, copy.rate),
    ]


# --- report ----------------------------------------------------------------------------------

HEADERS = ("operation", "concurrency", "repository ops/s", "asyncpg ops/s", "ratio")
REPORT_WIDTH = 100


def ratios(results: Sequence[Result], operation: str) -> dict[int, float]:
    return {r.concurrency: r.ratio for r in results if r.operation == operation}


def ratio_target(results: Sequence[Result], operation: str, minimum: float) -> Target:
    by_concurrency = ratios(results, operation)
    measured = ", ".join(f"c={c} {ratio:.2f}" for c, ratio in by_concurrency.items())
    return Target(
        f"{operation} ratio >= {minimum}", measured, min(by_concurrency.values()) >= minimum
    )


def targets(results: Sequence[Result]) -> list[Target]:
    create_many = next(r.repository for r in results if r.operation.startswith("create_many"))
    return [
        ratio_target(results, "get_by_id", GET_BY_ID_MIN_RATIO),
        ratio_target(results, "get_last_n", GET_LAST_N_MIN_RATIO),
        Target(
            f"create_many >= {CREATE_MANY_MIN_CHUNKS_PER_SECOND:,} chunks/s",
            f"{create_many:,.0f}",
            create_many >= CREATE_MANY_MIN_CHUNKS_PER_SECOND,
        ),
    ]


def table_rows(results: Sequence[Result]) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            result.operation,
            str(result.concurrency),
            f"{result.repository:,.0f}",
            f"{result.asyncpg:,.0f}",
            f"{result.ratio:.2f}",
        )
        for result in results
    ]


def targets_line(checked: Sequence[Target]) -> str:
    verdicts = (
        f"{target.description}: {'PASS' if target.met else 'FAIL'} ({target.measured})"
        for target in checked
    )
    return "Targets: " + "; ".join(verdicts)


def print_report(results: Sequence[Result], caption: str) -> None:
    rows = table_rows(results)
    summary = targets_line(targets(results))
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print_plain(rows, caption, summary)
        return
    table = Table(title="Repository layer vs raw asyncpg (ratio = repository / asyncpg)")
    table.caption = caption
    for index, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console = Console()
    # Piped output defaults to 80 columns, too narrow for the table on one line per row.
    console.width = max(console.width, REPORT_WIDTH)
    console.print(table)
    console.print(summary, soft_wrap=True)


def print_plain(rows: Sequence[Sequence[str]], caption: str, summary: str) -> None:
    widths = [max(len(line[i]) for line in [HEADERS, *rows]) for i in range(len(HEADERS))]
    for line in [HEADERS, *rows]:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))
    print(caption)
    print(summary)


# --- entry point -----------------------------------------------------------------------------


async def benchmark() -> list[Result]:
    async with (
        throwaway_database(server_url()) as database_url,
        session_factory(database_url) as sessions,
        asyncpg_pool(database_url) as pool,
    ):
        data = await seed(pool)
        single_rows = await measure_single_rows(sessions, pool, data)
        return single_rows + await measure_create_many(sessions, pool, data)


def run(main: Coroutine[Any, Any, list[Result]]) -> list[Result]:
    """Run on uvloop when installed: it speeds up both sides alike."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main() -> None:
    # The embedded server is stopped at exit, outside start_embedded_postgres's own filter.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    caption = f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} before the run"
    print_report(run(benchmark()), caption)


if __name__ == "__main__":
    main()
