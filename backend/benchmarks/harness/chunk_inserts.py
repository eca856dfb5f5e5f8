"""A batch of chunks inserted three ways, committed: the repository's `create_many` and commit,
asyncpg's `executemany` (atomic: one implicit transaction) and its COPY; and the batch, 1,000
chunks of about 1 KB of many distinct words, each batch of a new transcript."""

import random
import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from app.db.repositories import ChunkRepository, NewChunk
from benchmarks.harness import database as db
from benchmarks.harness.text import letter_words

CHUNKS_PER_ROUND = 1_000
CHUNK_TEXT_BYTES = 1_000

ChunkInsert = Callable[[list[NewChunk]], Awaitable[object]]


async def chunk_batch(pool: asyncpg.Pool, owner_id: uuid.UUID) -> list[NewChunk]:
    """CHUNKS_PER_ROUND chunks of a new transcript."""
    transcript_id = await pool.fetchval(
        "INSERT INTO transcripts (user_id, youtube_video_id, transcript_text) "
        "VALUES ($1, $2, 'bench') RETURNING id",
        owner_id,
        uuid.uuid4().hex[:11],
    )
    texts = (
        " ".join(random.choices(letter_words(), k=CHUNK_TEXT_BYTES // 4))[:CHUNK_TEXT_BYTES]
        for _ in range(CHUNKS_PER_ROUND)
    )
    return [
        NewChunk(transcript_id, owner_id, index, text, CHUNK_TEXT_BYTES // 4)
        for index, text in enumerate(texts)
    ]


def chunk_inserts(sessions: db.Sessions, pool: asyncpg.Pool) -> list[ChunkInsert]:
    """The repository's create_many and commit, asyncpg's executemany (atomic: one implicit
    transaction) and its COPY."""

    async def repository(chunks: list[NewChunk]) -> None:
        async with sessions() as session:
            await ChunkRepository(session).create_many(chunks)
            await session.commit()

    async def executemany(chunks: list[NewChunk]) -> None:
        await pool.executemany(db.INSERT_CHUNK, [db.chunk_record(chunk) for chunk in chunks])

    async def copy(chunks: list[NewChunk]) -> None:
        records = [db.chunk_record(chunk) for chunk in chunks]
        async with pool.acquire() as connection:
            await connection.copy_records_to_table(
                "chunks", records=records, columns=db.CHUNK_COLUMNS
            )

    return [repository, executemany, copy]
