"""The throw-away database a benchmark runs in, and the ways it talks to it: the application's
engine and units of work, and raw asyncpg for set-up and for the baselines. The server is the one
BENCH_DATABASE_URL or TEST_DATABASE_URL names, else an embedded PostgreSQL with a data folder of
its own (backend/.data/postgres-bench); each database has a unique name, is migrated before the
block and dropped after it."""

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from alembic import command
from app.core.config import BACKEND_DIR, Settings, to_asyncpg_url
from app.db.embedded import start_embedded_postgres
from app.db.migrations import alembic_config
from app.db.repositories import NewChunk, NewPassage
from app.db.session import UnitOfWork, build_engine
from testkit.database import create_database, drop_database

POOL_SIZE = 4  # the application's engine, where a benchmark runs one thing at a time
PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$" + "x" * 64
SELECT_LAST_MESSAGES = (
    "SELECT * FROM messages WHERE conversation_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
)
CHUNK_COLUMNS = ("id", "transcript_id", "user_id", "chunk_index", "chunk_text", "token_count",
                 "metadata")  # fmt: skip
PASSAGE_COLUMNS = ("id", "chunk_id", "transcript_id", "user_id", "passage_index", "passage_text",
                   "word_offset", "start_seconds", "end_seconds")  # fmt: skip


def insert_sql(table: str, columns: tuple[str, ...]) -> str:
    values = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"  # noqa: S608


INSERT_CHUNK = insert_sql("chunks", CHUNK_COLUMNS)
INSERT_PASSAGE = insert_sql("passages", PASSAGE_COLUMNS)
Sessions = async_sessionmaker[AsyncSession]


def server_url() -> str:
    """The configured server, else the embedded one (its own data folder, not the tests')."""
    for variable in ("BENCH_DATABASE_URL", "TEST_DATABASE_URL"):
        if configured := os.environ.get(variable, "").strip():
            return to_asyncpg_url(configured)
    return start_embedded_postgres(BACKEND_DIR / ".data" / "postgres-bench")


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(False)


def migrate(database_url: str, revision: str = "head") -> None:
    # Alembic's env.py runs its own event loop: call this from a thread of its own.
    command.upgrade(alembic_config(database_url), revision)


@asynccontextmanager
async def throwaway_database(
    server: str | None = None, revision: str = "head"
) -> AsyncIterator[str]:
    database_url = await create_database(server or server_url(), prefix="ytt_bench")
    try:
        await asyncio.to_thread(migrate, database_url, revision)
        yield database_url
    finally:
        await drop_database(database_url)


def bench_settings(database_url: str, pool_size: int = POOL_SIZE, **values: Any) -> Settings:
    """The application's settings with a pool of `pool_size` connections and no overflow."""
    return Settings(database_url=database_url, db_pool_size=pool_size, db_max_overflow=0, **values)


@asynccontextmanager
async def app_engine(settings: Settings, *, autocommit: bool = False) -> AsyncIterator[AsyncEngine]:
    """The application's engine (with autocommit, its read-only engine), disposed after."""
    engine = build_engine(settings, autocommit=autocommit)
    try:
        yield engine
    finally:
        await engine.dispose()


def session_maker(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False)


def units_of_work(sessions: Sessions, commits: list[float] | None = None) -> UnitOfWork:
    """`app.db.session.unit_of_work`'s contract on the benchmark's engine; each commit's time
    goes to `commits` when given."""

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


@asynccontextmanager
async def asyncpg_pool(database_url: str, size: int = 10) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=size, max_size=size)
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        yield connection
    finally:
        await connection.close()


@dataclass(frozen=True)
class Bench:
    """A throw-away database, with the app's settings, engine and sessions, and an asyncpg pool."""

    url: str
    settings: Settings
    engine: AsyncEngine
    sessions: Sessions
    pool: asyncpg.Pool


@asynccontextmanager
async def bench_database() -> AsyncIterator[Bench]:
    async with throwaway_database() as url:
        settings = bench_settings(url)
        async with app_engine(settings) as engine, asyncpg_pool(url) as pool:
            yield Bench(url, settings, engine, session_maker(engine), pool)


def unique_email() -> str:
    return f"bench-{uuid.uuid4().hex}@example.com"


async def new_user(pool: asyncpg.Pool) -> uuid.UUID:
    insert = "INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id"
    user_id: uuid.UUID = await pool.fetchval(insert, unique_email(), PASSWORD_HASH)
    return user_id


def chunk_record(chunk: NewChunk) -> tuple[Any, ...]:
    """The row asyncpg sends for a chunk: `NewChunk.as_row`'s values, the metadata as JSON text
    (asyncpg's jsonb codec takes text; orjson writes a Fragment as is)."""
    row = chunk.as_row() | {"metadata": orjson.dumps(chunk.metadata).decode()}
    return tuple(row[column] for column in CHUNK_COLUMNS)


def passage_record(passage: NewPassage) -> tuple[Any, ...]:
    row = passage.as_row()
    return tuple(row[column] for column in PASSAGE_COLUMNS)
