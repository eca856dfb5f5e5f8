"""Vector corpora kept between runs, for the benchmarks whose corpora take minutes to build:
each in a database of its own (named by its size and CORPUS_VERSION), on an embedded server of
its own (backend/.data/postgres-search-bench) with shared_buffers raised, since a server that
holds a 600,000-chunk library is given more than PostgreSQL's default 128 MB. A corpus counts as
built only once its last step recorded its build times, at the current migration head, with its
vectors under the provider's model. BENCH_DATABASE_URL, when set, names the server instead (its
settings are then left alone)."""

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass, field

import asyncpg
from alembic.script import ScriptDirectory

from app.core.config import BACKEND_DIR
from app.db.embedded import start_embedded_postgres
from app.db.migrations import alembic_config
from app.services.embeddings.base import EmbeddingProvider
from benchmarks.harness import database as db
from benchmarks.harness.corpus import CHUNKS_PER_TRANSCRIPT, stored_corpus
from benchmarks.harness.vector_corpus import VectorSetup, prepare_vectors
from testkit.database import _run_on_server, with_database

CORPUS_VERSION = 3  # bump when the corpus's generation changes: older builds are rebuilt
SEARCH_SERVER_DIR = BACKEND_DIR / ".data" / "postgres-search-bench"
SHARED_BUFFERS = "2GB"
# The HNSW graph of 615,000 vectors takes about 1.3 GB: built in memory it takes minutes, not
# the tens of minutes of a build that spills.
BUILD_MAINTENANCE_WORK_MEM = "3GB"

BUILD_TIMES = ("load_seconds", "vacuum_seconds", "vectors_seconds", "hnsw_seconds")
BUILD_RECORD = "bench_corpus_build"
RECORD_BUILD = f"""
    CREATE TABLE {BUILD_RECORD} AS
    SELECT $1::int AS version, $2::text AS model, $3::float8 AS load_seconds,
           $4::float8 AS vacuum_seconds, $5::float8 AS vectors_seconds,
           $6::float8 AS hnsw_seconds, now() AS built_at
"""
# Run in a process of its own, whose exit stops the server, so that the start after it reads
# the new setting (when another process still holds the server, the report's setting says so).
CONFIGURE_SERVER = """
import asyncio, sys, asyncpg
from app.db.embedded import start_embedded_postgres
from benchmarks.harness.database import asyncpg_dsn
async def configure(url):
    connection = await asyncpg.connect(asyncpg_dsn(url))
    await connection.execute(f"ALTER SYSTEM SET shared_buffers = '{sys.argv[2]}'")
    await connection.close()
asyncio.run(configure(start_embedded_postgres(__import__('pathlib').Path(sys.argv[1]))))
"""


def search_server_url(shared_buffers: str = SHARED_BUFFERS) -> str:
    """BENCH_DATABASE_URL's server as it is, else the benchmark's own embedded server."""
    configured = os.environ.get("BENCH_DATABASE_URL", "").strip()
    if configured:
        return configured
    subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-c", CONFIGURE_SERVER, str(SEARCH_SERVER_DIR), shared_buffers],
        cwd=BACKEND_DIR,
        check=True,
    )
    return start_embedded_postgres(SEARCH_SERVER_DIR)


def corpus_database(chunks: int) -> str:
    return f"ytt_search_{chunks // 1000}k_v{CORPUS_VERSION}"


@dataclass
class BuiltCorpus:
    chunks: int
    database_url: str
    setup: VectorSetup
    reused: bool
    passages: int  # the big user's
    build_seconds: dict[str, float] = field(default_factory=dict)


async def is_built(database_url: str, model: str) -> dict[str, float] | None:
    """The recorded build times when this database holds a complete corpus at the migration
    head with its vectors under `model`; None otherwise."""
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    try:
        async with db.connected(database_url) as connection:
            if await connection.fetchval("SELECT to_regclass($1)", BUILD_RECORD) is None:
                return None
            if await connection.fetchval("SELECT version_num FROM alembic_version") != head:
                return None
            row = await connection.fetchrow(f"SELECT * FROM {BUILD_RECORD}")  # noqa: S608
    except asyncpg.InvalidCatalogNameError:
        return None
    if row["version"] != CORPUS_VERSION or row["model"] != model:
        return None
    return {k: float(v) for k, v in row.items() if k.endswith("_seconds")}


async def build_corpus(server: str, chunks: int, provider: EmbeddingProvider) -> dict[str, float]:
    """Create the corpus's database from scratch; returns its build times."""
    name = corpus_database(chunks)
    database_url = with_database(server, name)
    await _run_on_server(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _run_on_server(server, f'CREATE DATABASE "{name}"')
    await asyncio.to_thread(db.migrate, database_url)
    settings = db.bench_settings(database_url)
    async with db.app_engine(settings) as engine, db.asyncpg_pool(database_url) as pool:
        setup = await prepare_vectors(
            engine, pool, database_url, settings, provider,
            owner_transcripts=chunks // CHUNKS_PER_TRANSCRIPT,
            maintenance_work_mem=BUILD_MAINTENANCE_WORK_MEM,
        )  # fmt: skip
        times = {
            "load_seconds": setup.corpus.load_seconds,
            "vacuum_seconds": setup.corpus.vacuum_seconds,
            "vectors_seconds": setup.sample_seconds + setup.copy_seconds,
            "hnsw_seconds": setup.build_seconds + setup.analyze_seconds,
        }
        await pool.execute(RECORD_BUILD, CORPUS_VERSION, provider.model_name, *times.values())
    return times


async def ready_corpus(
    server: str, chunks: int, provider: EmbeddingProvider, rebuild: bool
) -> BuiltCorpus:
    database_url = with_database(server, corpus_database(chunks))
    times = None if rebuild else await is_built(database_url, provider.model_name)
    reused = times is not None
    if times is None:
        times = await build_corpus(server, chunks, provider)
    async with db.asyncpg_pool(database_url) as pool:
        setup = VectorSetup(await stored_corpus(pool), provider.model_name, provider.dimension)
        sizes = await pool.fetchrow(
            "SELECT pg_size_pretty(pg_relation_size('chunks')) AS chunks, "
            "pg_size_pretty(pg_relation_size('passage_embeddings')) AS heap, "
            "pg_size_pretty(pg_indexes_size('passage_embeddings')) AS hnsw"
        )
        setup.sizes = {key: str(value) for key, value in sizes.items()}
        passages = await pool.fetchval(
            "SELECT count(*) FROM passages WHERE user_id = $1", setup.corpus.owner
        )
    return BuiltCorpus(chunks, database_url, setup, reused, passages, times)
