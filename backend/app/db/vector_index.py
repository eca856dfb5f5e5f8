"""The HNSW index of one embedding model's vectors, and the expression queries must repeat.

`passage_embeddings.embedding` has no fixed length, so that several models' vectors can live in
one table; an HNSW index needs one. Each (model, dims) therefore gets its own partial expression
index, created when the application first meets that model:

    CREATE INDEX ix_passage_embeddings_hnsw_<hash of the model>_<dims> ON passage_embeddings
        USING hnsw ((embedding::vector(384)) vector_cosine_ops)
        WHERE model = '<model>' AND dims = 384

The planner uses it only for a query that orders by the same expression and whose WHERE clause
implies the same predicate, proven when the statement is planned: the model and the length are
therefore written into the query as literals (`model_filter`), never bound as parameters, which a
generic prepared plan could not see through.
"""

import hashlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

# pgvector indexes `vector` up to 2,000 dimensions and `halfvec` (16-bit floats) up to 4,000.
VECTOR_INDEX_MAX_DIMS = 2000
HALFVEC_INDEX_MAX_DIMS = 4000
VECTOR_INDEX_PREFIX = "ix_passage_embeddings_hnsw_"


def sql_literal(value: str) -> str:
    """A string as an SQL literal (standard_conforming_strings, on by default since 9.1)."""
    if "\x00" in value:
        raise ValueError("a model name cannot contain NUL")
    return "'" + value.replace("'", "''") + "'"


def check_dims(dims: int) -> None:
    if not 1 <= dims <= HALFVEC_INDEX_MAX_DIMS:
        raise ValueError(f"vectors must have 1 to {HALFVEC_INDEX_MAX_DIMS} dimensions, got {dims}")


def indexed_vector(dims: int, column: str = "embedding") -> str:
    """The expression the index is built on: the column cast to a fixed length."""
    check_dims(dims)
    kind = "vector" if dims <= VECTOR_INDEX_MAX_DIMS else "halfvec"
    return f"({column}::{kind}({dims}))"


def query_vector(dims: int, parameter: str = ":query") -> str:
    """A bound `real[]` parameter as a vector comparable with `indexed_vector(dims)`."""
    kind = "vector" if dims <= VECTOR_INDEX_MAX_DIMS else "halfvec"
    return f"CAST(CAST({parameter} AS real[]) AS {kind}({dims}))"


def model_filter(model: str, dims: int, alias: str = "") -> str:
    """The index's predicate, as literals: `model = '…' AND dims = N`."""
    check_dims(dims)
    prefix = f"{alias}." if alias else ""
    return f"{prefix}model = {sql_literal(model)} AND {prefix}dims = {int(dims)}"


def vector_index_name(model: str, dims: int) -> str:
    """Deterministic, and short enough for PostgreSQL's 63-character names."""
    digest = hashlib.sha256(model.encode()).hexdigest()[:12]
    return f"{VECTOR_INDEX_PREFIX}{digest}_{int(dims)}"


def vector_index_ddl(model: str, dims: int, *, concurrently: bool = True) -> str:
    operators = "vector_cosine_ops" if dims <= VECTOR_INDEX_MAX_DIMS else "halfvec_cosine_ops"
    return (
        f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS "
        f"{vector_index_name(model, dims)} ON passage_embeddings "
        f"USING hnsw ({indexed_vector(dims)} {operators}) WHERE {model_filter(model, dims)}"
    )


_INDEX_STATE = """
    SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
     WHERE c.relname = :name AND c.relnamespace = 'public'::regnamespace
"""


BUILD_MEMORY = "1GB"  # for this connection's build only


async def ensure_vector_index(engine: AsyncEngine, model: str, dims: int) -> bool:
    """Create the model's index CONCURRENTLY (writes go on meanwhile) unless it exists.

    Returns False when another process holds the build: it will finish it. An advisory lock,
    taken without waiting, tells builders apart from the invalid leftover of a build that was
    interrupted, which is dropped and built again. Runs outside any transaction, without the
    statement timeout: building over many vectors takes a while.
    """
    name = vector_index_name(model, dims)
    lock_key = text("SELECT hashtext(:name)::bigint").bindparams(name=name)
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        key = await connection.scalar(lock_key)
        if not await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}):
            return False
        try:
            valid = await connection.scalar(text(_INDEX_STATE), {"name": name})
            if valid is True:
                return True
            await connection.execute(text("SET statement_timeout = 0"))
            # HNSW builds in memory until maintenance_work_mem is full, then far more slowly
            # (measured: 22 s instead of 161 s for 165,000 vectors of 384 dimensions).
            await connection.execute(text(f"SET maintenance_work_mem = '{BUILD_MEMORY}'"))
            if valid is False:
                logger.warning("dropping %s, left invalid by an interrupted build", name)
                await connection.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {name}"))
            logger.info("building the vector index %s for %s (%d dimensions)", name, model, dims)
            await connection.execute(text(vector_index_ddl(model, dims)))
            return True
        finally:
            await connection.execute(text("RESET statement_timeout"))
            await connection.execute(text("RESET maintenance_work_mem"))
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
