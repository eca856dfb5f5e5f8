"""The search corpus: 1,100 transcripts of 150 chunks (165,000 chunks of about 150 tokens, one
passage each) of seeded English-like text, each transcript on one of twenty topics. 1,000 belong
to one user (the owner) and 100 to a second, every eleventh, so both users' chunks share the
heap's pages as they would after months of use. Loaded with COPY from two connections while a
thread generates the next batch, then VACUUM ANALYZE; `Corpus.load_table` says how it went."""

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from rich.table import Table

from app.db.repositories import NewChunk
from app.services.chunking import count_tokens
from app.services.passages import chunk_passages
from benchmarks.harness.database import CHUNK_COLUMNS, chunk_record, new_user
from benchmarks.harness.report import table
from benchmarks.harness.text import SEED, TextGenerator

OWNER_TRANSCRIPTS = 1_000
OTHER_TRANSCRIPTS = 100
CHUNKS_PER_TRANSCRIPT = 150
CHUNK_SECONDS = 48.0
TRANSCRIPTS_PER_BATCH = 10  # 1,500 chunks per COPY
LOADERS = 2  # COPY connections: one per core
PASSAGE_COLUMNS = tuple(
    "id chunk_id transcript_id user_id passage_index passage_text word_offset start_seconds "  # noqa: SIM905
    "end_seconds".split()
)
TITLE_PREFIX = "A talk about "

Row = tuple[Any, ...]


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

    @property
    def owner_chunks(self) -> int:
        return len(self.transcript_ids(self.owner)) * CHUNKS_PER_TRANSCRIPT

    def load_table(self) -> Table:
        """How the corpus loaded, and the sizes it takes."""
        owned, sizes = len(self.transcript_ids(self.owner)), self.sizes
        headers = (
            "transcripts", "chunks", "passages", "avg tokens", "load s", "chunks/s",
            "VACUUM ANALYZE s", "chunks heap", "passages GIN", "chunks + indexes",
            "passages + indexes",
        )  # fmt: skip
        row = [
            f"{len(self.transcripts):,} ({owned:,} + {len(self.transcripts) - owned:,})",
            f"{self.chunks:,}",
            f"{self.passages:,}",
            f"{self.tokens / self.chunks:.0f}",
            f"{self.load_seconds:.1f}",
            f"{self.chunks / self.load_seconds:,.0f}",
            f"{self.vacuum_seconds:.1f}",
            *(sizes[key] for key in ("heap", "gin", "total", "passages_total")),
        ]
        return table(
            "2a. The search corpus (COPY from 2 connections, then VACUUM ANALYZE)",
            headers,
            [row],
            caption=f"PostgreSQL {sizes['version']}, shared_buffers {sizes['shared_buffers']}. "
            "Transcripts carry a placeholder text (search never reads it).",
        )


def plan_transcripts(
    owner: uuid.UUID, other: uuid.UUID, text: TextGenerator, owner_transcripts: int
) -> list[PlannedTranscript]:
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


@dataclass(frozen=True)
class RowBatch:
    """Chunk rows and their passages' rows, copied in that order (passages reference chunks)."""

    chunks: list[Row]
    passages: list[Row]


def passage_records(chunk_id: uuid.UUID, chunk: NewChunk, metadata: dict[str, Any]) -> list[Row]:
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


async def copy_batches(pool: asyncpg.Pool, batches: asyncio.Queue[RowBatch | None]) -> None:
    async with pool.acquire() as connection:
        while (batch := await batches.get()) is not None:
            await connection.copy_records_to_table(
                "chunks", records=batch.chunks, columns=CHUNK_COLUMNS
            )
            await connection.copy_records_to_table(
                "passages", records=batch.passages, columns=PASSAGE_COLUMNS
            )


async def generate_batches(
    corpus: Corpus, text: TextGenerator, encoding: str, batches: asyncio.Queue[RowBatch | None]
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
            (t.id, t.user_id, t.video_id, TITLE_PREFIX + t.topic, "(in the chunks)")
            for t in corpus.transcripts
        ],
        columns=("id", "user_id", "youtube_video_id", "title", "transcript_text"),
    )
    batches: asyncio.Queue[RowBatch | None] = asyncio.Queue(maxsize=LOADERS)
    async with asyncio.TaskGroup() as group:
        for _ in range(LOADERS):
            group.create_task(copy_batches(pool, batches))
        group.create_task(generate_batches(corpus, text, encoding, batches))
    corpus.load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    await pool.execute("VACUUM ANALYZE transcripts, chunks, passages")
    corpus.vacuum_seconds = time.perf_counter() - started
    sizes = await pool.fetchrow(
        "SELECT pg_size_pretty(pg_relation_size('chunks')) AS heap, "
        "pg_size_pretty(pg_relation_size('ix_passages_search_vector')) AS gin, "
        "pg_size_pretty(pg_total_relation_size('chunks')) AS total, "
        "pg_size_pretty(pg_total_relation_size('passages')) AS passages_total, "
        "current_setting('shared_buffers') AS shared_buffers, "
        "current_setting('server_version') AS version"
    )
    corpus.sizes = dict(sizes.items())
    return corpus


async def stored_corpus(pool: asyncpg.Pool) -> Corpus:
    """A corpus a previous run loaded, read back from its transcripts."""
    rows = await pool.fetch(
        "SELECT id, user_id, youtube_video_id, title FROM transcripts ORDER BY youtube_video_id"
    )
    per_user: dict[uuid.UUID, int] = {}
    for row in rows:
        per_user[row["user_id"]] = per_user.get(row["user_id"], 0) + 1
    owner, other = sorted(per_user, key=per_user.__getitem__, reverse=True)
    transcripts = [
        PlannedTranscript(
            r["id"], r["user_id"], r["youtube_video_id"], r["title"].removeprefix(TITLE_PREFIX)
        )
        for r in rows
    ]
    return Corpus(owner, other, transcripts, chunks=len(rows) * CHUNKS_PER_TRANSCRIPT)
