"""How fast the repository layer is next to raw asyncpg running the same SQL.

Measured in ops/s, each side at concurrency 1 and 10 (that many tasks, each taking its own
session or connection from a pool of 10 per operation):

- `UserRepository.create` (session, create, commit) vs `INSERT INTO users ... RETURNING *`;
- `UserRepository.get_by_id` (a session per lookup) vs `SELECT * FROM users WHERE id = $1`;
- `MessageRepository.get_last_n(conversation, 20)` on a 10,000-message conversation vs the same
  `SELECT ... ORDER BY created_at DESC, id DESC LIMIT 20`;
- `ChunkRepository.create_many` of 1,000 ~1 KB chunks, committed, in chunks/s at concurrency 1,
  vs asyncpg `executemany` and `copy_records_to_table`.

The SQLAlchemy engine is the application's own (`build_engine`, pool pre-ping included); the
asyncpg side uses `asyncpg.create_pool` as it comes. Both run on uvloop when it is installed.
Everything happens in a throw-away database, migrated to head and dropped at the end, on the
server BENCH_DATABASE_URL or TEST_DATABASE_URL names, else on an embedded PostgreSQL in
backend/.data/postgres-bench. Takes about a minute:

    cd backend && .venv/bin/python -m benchmarks.repositories
"""

import asyncio
import json
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
MEASURE_SECONDS = 2.0
MEASURE_MAX_OPS = 20_000
WARMUP_SECONDS = 0.3
WARMUP_OPS_PER_TASK = 30

SEEDED_USERS = 10_000
CONVERSATION_MESSAGES = 10_000
LAST_N = 20
CHUNKS_PER_ROUND = 1_000
CHUNK_TEXT_BYTES = 1_000
CHUNK_WARMUP_ROUNDS = 2
CHUNK_MAX_ROUNDS = 30

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


def chunk_batch(transcript_id: uuid.UUID, owner_id: uuid.UUID) -> list[NewChunk]:
    filler = "lorem ipsum dolor sit amet " * (CHUNK_TEXT_BYTES // 27 + 1)
    return [
        NewChunk(
            transcript_id=transcript_id,
            user_id=owner_id,
            chunk_index=index,
            chunk_text=f"{index:06d} {filler}"[:CHUNK_TEXT_BYTES],
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


async def ops_per_second(operation: Operation, concurrency: int) -> float:
    # The warm-up opens the pool's connections and fills the prepared-statement caches.
    await run_tasks(operation, concurrency, WARMUP_OPS_PER_TASK * concurrency, WARMUP_SECONDS)
    started = time.perf_counter()
    completed = await run_tasks(operation, concurrency, MEASURE_MAX_OPS, MEASURE_SECONDS)
    return completed / (time.perf_counter() - started)


async def chunks_per_second(insert: ChunkInsert, pool: asyncpg.Pool, owner_id: uuid.UUID) -> float:
    """Rounds of one 1,000-chunk batch, each into a new transcript; only the insert is timed."""

    async def next_batch() -> list[NewChunk]:
        return chunk_batch(await new_transcript(pool, owner_id), owner_id)

    for _ in range(CHUNK_WARMUP_ROUNDS):
        await insert(await next_batch())
    inserted, elapsed = 0, 0.0
    for _ in range(CHUNK_MAX_ROUNDS):
        batch = await next_batch()
        started = time.perf_counter()
        await insert(batch)
        elapsed += time.perf_counter() - started
        inserted += len(batch)
        if elapsed >= MEASURE_SECONDS:
            break
    return inserted / elapsed


async def compare(
    operation: str, repository: Operation, raw: Operation, concurrency: int
) -> Result:
    repository_rate = await ops_per_second(repository, concurrency)
    asyncpg_rate = await ops_per_second(raw, concurrency)
    return Result(operation, concurrency, repository_rate, asyncpg_rate)


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


async def measure_create_many(sessions: Sessions, pool: asyncpg.Pool, data: Seed) -> list[Result]:
    repository_rate = await chunks_per_second(
        repository_create_chunks(sessions), pool, data.owner_id
    )
    executemany_rate = await chunks_per_second(
        asyncpg_executemany_chunks(pool), pool, data.owner_id
    )
    copy_rate = await chunks_per_second(asyncpg_copy_chunks(pool), pool, data.owner_id)
    return [
        Result("create_many (chunks/s) vs executemany", 1, repository_rate, executemany_rate),
        Result("create_many (chunks/s) vs COPY", 1, repository_rate, copy_rate),
    ]


# --- report ----------------------------------------------------------------------------------


def worst_ratio(results: Sequence[Result], operation: str) -> float:
    return min(result.ratio for result in results if result.operation == operation)


def targets(results: Sequence[Result]) -> list[Target]:
    get_by_id = worst_ratio(results, "get_by_id")
    get_last_n = worst_ratio(results, "get_last_n")
    create_many = next(r.repository for r in results if r.operation.startswith("create_many"))
    return [
        Target(
            f"get_by_id ratio >= {GET_BY_ID_MIN_RATIO}",
            f"worst {get_by_id:.2f}",
            get_by_id >= GET_BY_ID_MIN_RATIO,
        ),
        Target(
            f"get_last_n ratio >= {GET_LAST_N_MIN_RATIO}",
            f"worst {get_last_n:.2f}",
            get_last_n >= GET_LAST_N_MIN_RATIO,
        ),
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


HEADERS = ("operation", "concurrency", "repository ops/s", "asyncpg ops/s", "repository/asyncpg")


def print_report(results: Sequence[Result]) -> None:
    rows = table_rows(results)
    summary = targets_line(targets(results))
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print_plain(rows, summary)
        return
    table = Table(title="Repository layer vs raw asyncpg")
    for index, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(summary)


def print_plain(rows: Sequence[Sequence[str]], summary: str) -> None:
    widths = [max(len(line[i]) for line in [HEADERS, *rows]) for i in range(len(HEADERS))]
    for line in [HEADERS, *rows]:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))
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
    print_report(run(benchmark()))


if __name__ == "__main__":
    main()
