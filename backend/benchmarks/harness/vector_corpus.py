"""The search corpus (corpus.py), with a vector per passage and the model's HNSW index.

The corpus's chunks are about 94 words, so each is one passage (cut as storing a transcript
cuts them). Computing 165,000 vectors with the offline model would take hours on
two cores (about 13 passages/s), so they are synthetic but shaped like the model's:
SAMPLE_CHUNKS_PER_TOPIC passages of each of the corpus's twenty topics are embedded for real by
the provider given, and every passage gets one of its topic's real vectors plus Gaussian noise
(norm NOISE_NORM), scaled to unit length, stored under that provider's model name (the name its
questions search under) by binary COPY straight into passage_embeddings. Then
`ensure_vector_index` builds that model's HNSW index, timed, and ANALYZE runs.

The build runs with maintenance_work_mem raised to BUILD_MAINTENANCE_WORK_MEM for the database:
with the server's default of 64 MB the graph no longer fits in memory after ~28,000 vectors and
the build of 165,000 took 161 s instead of 32 s (measured once on two busy cores).
"""

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
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.db.vector_index import ensure_vector_index, vector_index_name
from app.services.embeddings.base import EmbeddingProvider
from benchmarks.harness.corpus import OWNER_TRANSCRIPTS, Corpus, load_corpus
from benchmarks.harness.database import asyncpg_dsn
from benchmarks.harness.text import SEED

SAMPLE_CHUNKS_PER_TOPIC = 10  # passages embedded for real: the centres of the synthetic vectors
NOISE_NORM = 0.6  # two vectors around one centre: cosine about 0.74
VECTORS_PER_COPY = 15_000
BUILD_MAINTENANCE_WORK_MEM = "1GB"
EMBEDDING_COLUMNS = ("passage_id", "model", "user_id", "transcript_id", "dims", "embedding")

Vectors = npt.NDArray[np.float32]


@dataclass
class VectorSetup:
    corpus: Corpus
    model: str
    dimension: int
    sample_chunks: int = 0
    sample_seconds: float = 0.0
    copy_seconds: float = 0.0
    build_seconds: float = 0.0
    analyze_seconds: float = 0.0
    sizes: dict[str, str] = field(default_factory=dict)


async def topic_centres(
    pool: asyncpg.Pool, corpus: Corpus, provider: EmbeddingProvider
) -> dict[str, Vectors]:
    """Real vectors of the passages of the first SAMPLE_CHUNKS_PER_TOPIC chunks of each topic
    (the first transcript's)."""
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


def noisy_unit_vectors(centres: Vectors, count: int, rng: np.random.Generator) -> Vectors:
    """`count` vectors, each a random centre plus noise of norm about NOISE_NORM, unit length."""
    dimension = centres.shape[1]
    chosen = centres[rng.integers(0, len(centres), count)]
    noise = rng.standard_normal((count, dimension), dtype=np.float32)
    vectors = chosen + noise * np.float32(NOISE_NORM / np.sqrt(dimension))
    unit: Vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit


def embedding_records(
    rows: Sequence[asyncpg.Record],
    topics: dict[uuid.UUID, str],
    centres: dict[str, Vectors],
    model: str,
    rng: np.random.Generator,
) -> list[tuple[Any, ...]]:
    by_topic: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        by_topic[topics[row["transcript_id"]]].append(row)
    records = []
    for topic, passages in by_topic.items():
        vectors = noisy_unit_vectors(centres[topic], len(passages), rng)
        records += [
            (row["id"], model, row["user_id"], row["transcript_id"], len(vector), vector)
            for row, vector in zip(passages, vectors, strict=True)
        ]
    return records


async def copy_vectors(database_url: str, setup: VectorSetup, centres: dict[str, Vectors]) -> None:
    """A synthetic vector for every passage, by binary COPY (pgvector's asyncpg codec)."""
    topics = {t.id: t.topic for t in setup.corpus.transcripts}
    rng = np.random.default_rng(SEED)
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await register_vector(connection)
        started = time.perf_counter()
        passages = await connection.fetch("SELECT id, user_id, transcript_id FROM passages")
        for first in range(0, len(passages), VECTORS_PER_COPY):
            batch = passages[first : first + VECTORS_PER_COPY]
            records = await asyncio.to_thread(
                embedding_records, batch, topics, centres, setup.model, rng
            )
            await connection.copy_records_to_table(
                "passage_embeddings", records=records, columns=EMBEDDING_COLUMNS
            )
        setup.copy_seconds = time.perf_counter() - started
    finally:
        await connection.close()


async def build_index(
    engine: AsyncEngine,
    pool: asyncpg.Pool,
    setup: VectorSetup,
    maintenance_work_mem: str = BUILD_MAINTENANCE_WORK_MEM,
) -> None:
    database = await pool.fetchval("SELECT current_database()")
    await pool.execute(
        f"ALTER DATABASE {database} SET maintenance_work_mem = '{maintenance_work_mem}'"
    )
    await engine.dispose()  # the build's connection must be a new one, to take the setting
    started = time.perf_counter()
    if not await ensure_vector_index(engine, setup.model, setup.dimension):
        raise RuntimeError("another process holds the vector index build")
    setup.build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    await pool.execute("ANALYZE passage_embeddings")
    setup.analyze_seconds = time.perf_counter() - started
    sizes = await pool.fetchrow(
        "SELECT pg_size_pretty(pg_relation_size('passage_embeddings')) AS heap, "
        "pg_size_pretty(pg_relation_size($1::regclass)) AS hnsw, "
        "pg_size_pretty(pg_relation_size('chunks')) AS chunks, "
        "pg_size_pretty(pg_relation_size('passages')) AS passages, "
        "current_setting('shared_buffers') AS shared_buffers, "
        "(SELECT count(*) FROM passage_embeddings) AS vectors",
        vector_index_name(setup.model, setup.dimension),
    )
    setup.sizes = {key: str(value) for key, value in sizes.items()}


async def prepare_vectors(
    engine: AsyncEngine,
    pool: asyncpg.Pool,
    database_url: str,
    settings: Settings,
    provider: EmbeddingProvider,
    *,
    owner_transcripts: int = OWNER_TRANSCRIPTS,
    maintenance_work_mem: str = BUILD_MAINTENANCE_WORK_MEM,
) -> VectorSetup:
    corpus = await load_corpus(pool, settings.tokenizer_encoding, owner_transcripts)
    setup = VectorSetup(corpus, provider.model_name, provider.dimension)
    started = time.perf_counter()
    centres = await topic_centres(pool, corpus, provider)
    setup.sample_seconds = time.perf_counter() - started
    setup.sample_chunks = sum(len(vectors) for vectors in centres.values())
    await copy_vectors(database_url, setup, centres)
    await build_index(engine, pool, setup, maintenance_work_mem)
    return setup
