"""The search corpus, and optionally a vector per passage with the model's HNSW index.

1,100 transcripts of 150 chunks (165,000 chunks of about 150 tokens, one passage each) of
seeded English-like text, each on one of twenty topics; 1,000 belong to one user (the owner)
and 100, every eleventh, to a second, so both users' chunks share the heap's pages as they would
after months of use. Loaded with COPY from two connections while a thread generates the next
batch, then VACUUM ANALYZE.

Embedding 165,000 passages with the offline model would take hours on two cores, so the vectors
are synthetic but shaped like the model's: SAMPLE_CHUNKS_PER_TOPIC passages of each topic are
embedded for real, and every passage gets one of its topic's real vectors plus Gaussian noise
(norm NOISE_NORM) at unit length, under the provider's model name, by binary COPY. Then
`ensure_vector_index` builds the HNSW index with maintenance_work_mem raised: with the default
64 MB the graph spills after ~28,000 vectors and the build of 165,000 took 161 s, not 32 s."""

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import numpy as np
import numpy.typing as npt
from pgvector.asyncpg import register_vector
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.repositories import NewChunk
from app.db.vector_index import ensure_vector_index, vector_index_name
from app.services.chunking import count_tokens
from app.services.embeddings.base import EmbeddingProvider
from app.services.passages import chunk_passages
from benchmarks.harness import database as db
from benchmarks.harness.report import table
from benchmarks.harness.text import SEED, TextGenerator
from benchmarks.harness.timing import timed

OWNER_TRANSCRIPTS, OTHER_TRANSCRIPTS, CHUNKS_PER_TRANSCRIPT = 1_000, 100, 150
CHUNK_SECONDS = 48.0
TRANSCRIPTS_PER_BATCH = 10  # 1,500 chunks per COPY
LOADERS = 2  # COPY connections: one per core
TITLE_PREFIX = "A talk about "
SAMPLE_CHUNKS_PER_TOPIC = 10  # passages embedded for real: the centres of the synthetic vectors
NOISE_NORM = 0.6  # two vectors around one centre: cosine about 0.74
VECTORS_PER_COPY = 15_000
BUILD_MAINTENANCE_WORK_MEM = "1GB"
EMBEDDING_COLUMNS = ("passage_id", "model", "user_id", "transcript_id", "dims", "embedding")

Row = tuple[Any, ...]
Vectors = npt.NDArray[np.float32]


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
    seconds: dict[str, float] = field(default_factory=dict)  # by step: load, vacuum, vectors…
    sizes: dict[str, str] = field(default_factory=dict)
    sample_chunks: int = 0  # embedded for real

    def transcript_ids(self, user_id: uuid.UUID) -> set[uuid.UUID]:
        return {t.id for t in self.transcripts if t.user_id == user_id}

    @property
    def owner_chunks(self) -> int:
        return len(self.transcript_ids(self.owner)) * CHUNKS_PER_TRANSCRIPT

    def load_table(self) -> Table:
        """How the corpus loaded, and the sizes it takes."""
        owned, sizes, load = len(self.transcript_ids(self.owner)), self.sizes, self.seconds["load"]
        row = [
            f"{len(self.transcripts):,} ({owned:,} + {len(self.transcripts) - owned:,})",
            f"{self.chunks:,}", f"{self.passages:,}", f"{self.tokens / self.chunks:.0f}",
            f"{load:.1f}", f"{self.chunks / load:,.0f}", f"{self.seconds['vacuum']:.1f}",
            *(sizes[key] for key in ("chunks", "gin", "total", "passages_total")),
        ]  # fmt: skip
        return table(
            "2a. The search corpus (COPY from 2 connections, then VACUUM ANALYZE)",
            ("transcripts", "chunks", "passages", "avg tokens", "load s", "chunks/s",
             "VACUUM ANALYZE s", "chunks heap", "passages GIN", "chunks + indexes",
             "passages + indexes"),
            [row],
            caption=f"PostgreSQL {sizes['version']}, shared_buffers {sizes['shared_buffers']}. "
            "Transcripts carry a placeholder text (search never reads it).",
        )  # fmt: skip


def chunk_rows(
    transcripts: Sequence[PlannedTranscript], text: TextGenerator, encoding: str
) -> tuple[list[Row], list[Row]]:
    """The chunks' rows and their passages' rows, cut as storing a transcript cuts them."""
    chunks, passages = [], []
    for transcript in transcripts:
        for index in range(CHUNKS_PER_TRANSCRIPT):
            body, start = text.chunk_text(transcript.topic), index * CHUNK_SECONDS
            metadata = {"start_seconds": start, "end_seconds": start + CHUNK_SECONDS}
            chunk = NewChunk(transcript.id, transcript.user_id, index, body,
                             count_tokens(body, encoding), metadata)  # fmt: skip
            chunks.append(record := db.chunk_record(chunk))
            passages += [
                (uuid.uuid4(), record[0], transcript.id, transcript.user_id, p.index, p.text,
                 p.word_offset, p.start, p.end)
                for p in chunk_passages(body, metadata)
            ]  # fmt: skip
    return chunks, passages


async def load_corpus(
    pool: asyncpg.Pool, encoding: str, owner_transcripts: int = OWNER_TRANSCRIPTS
) -> Corpus:
    text = TextGenerator(SEED)
    owner, other = await db.new_user(pool), await db.new_user(pool)
    stride = (owner_transcripts + OTHER_TRANSCRIPTS) // OTHER_TRANSCRIPTS
    planned = [
        PlannedTranscript(uuid.uuid4(), other if n % stride == stride - 1 else owner,
                          f"corpus{n:05d}", text.topic())
        for n in range(owner_transcripts + OTHER_TRANSCRIPTS)
    ]  # fmt: skip
    corpus = Corpus(owner, other, planned)
    started = time.perf_counter()
    await pool.copy_records_to_table(
        "transcripts",
        # The full text is left out: search never reads it, and it would double the load.
        records=[(t.id, t.user_id, t.video_id, TITLE_PREFIX + t.topic, "(in the chunks)")
                 for t in planned],
        columns=("id", "user_id", "youtube_video_id", "title", "transcript_text"),
    )  # fmt: skip
    batches: asyncio.Queue[tuple[list[Row], list[Row]] | None] = asyncio.Queue(maxsize=LOADERS)

    async def generate() -> None:
        """Each batch generated in a thread while the loaders copy the last ones."""
        for first in range(0, len(planned), TRANSCRIPTS_PER_BATCH):
            batch = planned[first : first + TRANSCRIPTS_PER_BATCH]
            chunks, passages = await asyncio.to_thread(chunk_rows, batch, text, encoding)
            corpus.chunks += len(chunks)
            corpus.passages += len(passages)
            corpus.tokens += sum(row[db.CHUNK_COLUMNS.index("token_count")] for row in chunks)
            await batches.put((chunks, passages))
        for _ in range(LOADERS):
            await batches.put(None)

    async def copy() -> None:
        async with pool.acquire() as connection:
            while (batch := await batches.get()) is not None:
                chunks, passages = batch  # passages reference chunks: copied after them
                await connection.copy_records_to_table(
                    "chunks", records=chunks, columns=db.CHUNK_COLUMNS
                )
                await connection.copy_records_to_table(
                    "passages", records=passages, columns=db.PASSAGE_COLUMNS
                )

    async with asyncio.TaskGroup() as group:
        for _ in range(LOADERS):
            group.create_task(copy())
        group.create_task(generate())
    corpus.seconds["load"] = time.perf_counter() - started
    vacuum = pool.execute("VACUUM ANALYZE transcripts, chunks, passages")
    _, corpus.seconds["vacuum"] = await timed(vacuum)
    sizes = await pool.fetchrow(
        "SELECT pg_size_pretty(pg_relation_size('chunks')) AS chunks, "
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
    per_user: dict[uuid.UUID, int] = defaultdict(int)
    for row in rows:
        per_user[row["user_id"]] += 1
    owner, other = sorted(per_user, key=per_user.__getitem__, reverse=True)
    transcripts = [
        PlannedTranscript(
            r["id"], r["user_id"], r["youtube_video_id"], r["title"].removeprefix(TITLE_PREFIX)
        )
        for r in rows
    ]
    return Corpus(owner, other, transcripts, chunks=len(rows) * CHUNKS_PER_TRANSCRIPT)


async def topic_centres(
    pool: asyncpg.Pool, corpus: Corpus, provider: EmbeddingProvider
) -> dict[str, Vectors]:
    """Real vectors of the passages of the first chunks of each topic's first transcript."""
    first_of_topic: dict[str, uuid.UUID] = {}
    for transcript in corpus.transcripts:
        first_of_topic.setdefault(transcript.topic, transcript.id)
    rows = await pool.fetch(
        "SELECT p.transcript_id, p.passage_text FROM passages p JOIN chunks c ON c.id = p.chunk_id "
        "WHERE p.transcript_id = ANY($1) AND c.chunk_index < $2 "
        "ORDER BY p.transcript_id, c.chunk_index, p.passage_index",
        list(first_of_topic.values()),
        SAMPLE_CHUNKS_PER_TOPIC,
    )
    vectors = np.array(await provider.embed_passages([row["passage_text"] for row in rows]))
    topic_of = {transcript_id: topic for topic, transcript_id in first_of_topic.items()}
    topics = [topic_of[row["transcript_id"]] for row in rows]
    return {
        topic: vectors[[i for i, t in enumerate(topics) if t == topic]].astype(np.float32)
        for topic in first_of_topic
    }


def embedding_records(
    rows: Sequence[asyncpg.Record], topics: dict[uuid.UUID, str], centres: dict[str, Vectors],
    model: str, rng: np.random.Generator,
) -> list[Row]:  # fmt: skip
    """Each passage's vector: a random centre of its topic plus noise of norm about NOISE_NORM,
    at unit length."""
    by_topic: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        by_topic[topics[row["transcript_id"]]].append(row)
    records = []
    for topic, passages in by_topic.items():
        dimension = centres[topic].shape[1]
        chosen = centres[topic][rng.integers(0, len(centres[topic]), len(passages))]
        noise = rng.standard_normal((len(passages), dimension), dtype=np.float32)
        vectors = chosen + noise * np.float32(NOISE_NORM / np.sqrt(dimension))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        records += [
            (row["id"], model, row["user_id"], row["transcript_id"], len(vector), vector)
            for row, vector in zip(passages, vectors, strict=True)
        ]
    return records


async def add_vectors(
    engine: AsyncEngine, pool: asyncpg.Pool, corpus: Corpus, provider: EmbeddingProvider,
    maintenance_work_mem: str = BUILD_MAINTENANCE_WORK_MEM,
) -> None:  # fmt: skip
    """A synthetic vector for every passage (binary COPY, pgvector's asyncpg codec), then the
    HNSW index and ANALYZE, each timed; and the sizes they take."""
    centres, corpus.seconds["sample"] = await timed(topic_centres(pool, corpus, provider))
    corpus.sample_chunks = sum(len(vectors) for vectors in centres.values())
    topics, rng = {t.id: t.topic for t in corpus.transcripts}, np.random.default_rng(SEED)
    database = await pool.fetchval("SELECT current_database()")
    async with db.connected(engine.url.render_as_string(hide_password=False)) as connection:
        await register_vector(connection)
        started = time.perf_counter()
        passages = await connection.fetch("SELECT id, user_id, transcript_id FROM passages")
        for first in range(0, len(passages), VECTORS_PER_COPY):
            batch = passages[first : first + VECTORS_PER_COPY]
            records = await asyncio.to_thread(
                embedding_records, batch, topics, centres, provider.model_name, rng
            )
            await connection.copy_records_to_table(
                "passage_embeddings", records=records, columns=EMBEDDING_COLUMNS
            )
        corpus.seconds["vectors"] = time.perf_counter() - started
    setting = f"maintenance_work_mem = '{maintenance_work_mem}'"
    await pool.execute(f"ALTER DATABASE {database} SET {setting}")
    await engine.dispose()  # the build's connection must be a new one, to take the setting
    index = ensure_vector_index(engine, provider.model_name, provider.dimension)
    built, corpus.seconds["hnsw"] = await timed(index)
    if not built:
        raise RuntimeError("another process holds the vector index build")
    _, corpus.seconds["analyze"] = await timed(pool.execute("ANALYZE passage_embeddings"))
    sizes = await pool.fetchrow(
        "SELECT pg_size_pretty(pg_relation_size('passage_embeddings')) AS vectors_heap, "
        "pg_size_pretty(pg_relation_size($1::regclass)) AS hnsw, "
        "pg_size_pretty(pg_relation_size('passages')) AS passages, "
        "(SELECT count(*) FROM passage_embeddings) AS vectors",
        vector_index_name(provider.model_name, provider.dimension),
    )
    corpus.sizes |= {key: str(value) for key, value in sizes.items()}
