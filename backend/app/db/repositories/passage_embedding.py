"""Passage vectors: storing them, finding passages still without one, and the nearest to a
query.

Vectors travel as `real[]` (asyncpg's own binary array codec) and are cast to `vector` in SQL:
no codec to register on each connection, about four times cheaper than formatting text.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import REAL, ColumnElement, bindparam, exists, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.sql.elements import TextClause

from app.db.errors import database_errors_translated
from app.db.models import Passage, PassageEmbedding
from app.db.repositories.base import BaseRepository
from app.db.repositories.paging import check_page
from app.db.vector_index import indexed_vector, model_filter, query_vector

# The HNSW candidate list: larger finds more of the true nearest, at some speed (pgvector's
# default is 40). The iterative scan goes on past it when the owner filter leaves too few.
MIN_EF_SEARCH = 100
MAX_EF_SEARCH = 1000


@dataclass(frozen=True, slots=True)
class PassageText:
    """A passage waiting for its vector."""

    passage_id: uuid.UUID
    text: str


@dataclass(frozen=True, slots=True)
class NearPassage:
    """A passage near a query vector, with its cosine similarity."""

    passage_id: uuid.UUID
    similarity: float


_STORE = text("""
    INSERT INTO passage_embeddings (passage_id, model, user_id, transcript_id, dims, embedding)
    SELECT p.id, :model, p.user_id, p.transcript_id, :dims,
           CAST(CAST(:embedding AS real[]) AS vector)
      FROM passages p
     WHERE p.id = :passage_id
    ON CONFLICT (passage_id, model) DO UPDATE
       SET embedding = EXCLUDED.embedding, dims = EXCLUDED.dims, created_at = now()
""").bindparams(bindparam("embedding", type_=ARRAY(REAL)))

# For the rest of the transaction:
# - pgvector 0.8's iterative scan: when the owner filter discards candidates, keep walking the
#   graph instead of returning fewer rows (relaxed order is faster; the query re-sorts);
# - a plan for each user: whether the owner index (few vectors) or the vector index (many) is
#   faster depends on the user, which a generic plan of the prepared statement would not see.
_SEARCH_SETTINGS = text(
    "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
    "set_config('hnsw.ef_search', :ef_search, true), "
    "set_config('plan_cache_mode', 'force_custom_plan', true)"
)


def nearest_statement(model_name: str, dims: int, *, by_transcript: bool) -> TextClause:
    """The search: candidates in index order (the index's own expression and predicate), then
    the exact cosine similarity, best first."""
    transcripts = "AND e.transcript_id = ANY(:transcript_ids)" if by_transcript else ""
    statement = text(f"""
        WITH nearest AS MATERIALIZED (
            SELECT e.passage_id, e.embedding,
                   {indexed_vector(dims, "e.embedding")} <=> {query_vector(dims)} AS distance
              FROM passage_embeddings e
             WHERE {model_filter(model_name, dims, "e")} AND e.user_id = :user_id {transcripts}
             ORDER BY distance
             LIMIT :limit
        )
        SELECT n.passage_id,
               1 - (n.embedding <=> CAST(CAST(:query AS real[]) AS vector)) AS similarity
          FROM nearest n
         ORDER BY similarity DESC, n.passage_id
    """)  # noqa: S608 - model and dims are literals by design, escaped by model_filter
    parameters = [bindparam("query", type_=ARRAY(REAL))]
    if by_transcript:
        parameters.append(bindparam("transcript_ids", type_=ARRAY(UUID(as_uuid=True))))
    return statement.bindparams(*parameters)


class PassageEmbeddingRepository(BaseRepository[PassageEmbedding]):
    model = PassageEmbedding

    async def store_many(
        self, model_name: str, vectors: Sequence[tuple[uuid.UUID, Sequence[float]]]
    ) -> None:
        """Store (or replace) each passage's vector under `model_name`, in one statement (an
        executemany). The owner and transcript are copied from the passage; a passage deleted
        in the meantime is skipped."""
        rows = [
            {
                "passage_id": passage_id,
                "model": model_name,
                "dims": len(vector),
                "embedding": vector,
            }
            for passage_id, vector in vectors
        ]
        if rows:
            async with database_errors_translated():
                await self.session.execute(_STORE, rows)

    async def lacking(
        self,
        model_name: str,
        *,
        transcript_id: uuid.UUID | None = None,
        after: uuid.UUID | None = None,
        limit: int = 100,
    ) -> list[PassageText]:
        """Passages (of one transcript, or all) without a vector for `model_name`, in id order
        from `after`: page with the last id returned."""
        check_page(limit, 0)
        statement = select(Passage.id, Passage.passage_text).where(
            *self._lacking(model_name, transcript_id)
        )
        if after is not None:
            statement = statement.where(Passage.id > after)
        async with database_errors_translated():
            rows = await self.session.execute(statement.order_by(Passage.id).limit(limit))
        return [PassageText(passage_id, passage_text) for passage_id, passage_text in rows]

    async def count_lacking(
        self, model_name: str, *, transcript_id: uuid.UUID | None = None
    ) -> int:
        """How many passages (of one transcript, or all) have no vector for `model_name`."""
        statement = select(func.count()).select_from(Passage)
        async with database_errors_translated():
            count = await self.session.scalar(
                statement.where(*self._lacking(model_name, transcript_id))
            )
        return int(count or 0)

    @staticmethod
    def _lacking(model_name: str, transcript_id: uuid.UUID | None) -> list[ColumnElement[bool]]:
        has_vector = exists().where(
            PassageEmbedding.passage_id == Passage.id, PassageEmbedding.model == model_name
        )
        conditions = [~has_vector]
        if transcript_id is not None:
            conditions.append(Passage.transcript_id == transcript_id)
        return conditions

    async def nearest(
        self,
        user_id: uuid.UUID,
        query: Sequence[float],
        model_name: str,
        *,
        transcript_ids: Sequence[uuid.UUID] | None = None,
        limit: int = 10,
    ) -> list[NearPassage]:
        """The user's `limit` passages nearest to `query` (cosine), best first.

        Another user's passage is never returned. Needs a transaction (its index settings are
        SET LOCAL): a session from unit_of_work() or get_db(), not read_only().
        """
        check_page(limit, 0)
        await self._require_transaction()
        statement = nearest_statement(
            model_name, len(query), by_transcript=transcript_ids is not None
        )
        parameters: dict[str, Any] = {"user_id": user_id, "query": list(query), "limit": limit}
        if transcript_ids is not None:
            parameters["transcript_ids"] = list(transcript_ids)
        ef_search = min(max(MIN_EF_SEARCH, 2 * limit), MAX_EF_SEARCH)
        async with database_errors_translated():
            await self.session.execute(_SEARCH_SETTINGS, {"ef_search": str(ef_search)})
            rows = (await self.session.execute(statement, parameters)).all()
        return [NearPassage(passage_id, float(similarity)) for passage_id, similarity in rows]

    async def similarities(
        self, query: Sequence[float], model_name: str, passage_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, float]:
        """The cosine similarity of `query` to each of these passages' vectors of `model_name`;
        passages without one are left out."""
        if not passage_ids:
            return {}
        statement = text("""
            SELECT passage_id, 1 - (embedding <=> CAST(CAST(:query AS real[]) AS vector))
              FROM passage_embeddings
             WHERE model = :model AND dims = :dims AND passage_id = ANY(:passage_ids)
        """).bindparams(
            bindparam("query", type_=ARRAY(REAL)),
            bindparam("passage_ids", type_=ARRAY(UUID(as_uuid=True))),
        )
        parameters = {
            "query": list(query),
            "model": model_name,
            "dims": len(query),
            "passage_ids": list(passage_ids),
        }
        async with database_errors_translated():
            rows = (await self.session.execute(statement, parameters)).all()
        return {passage_id: float(similarity) for passage_id, similarity in rows}

    async def has_vectors(self, user_id: uuid.UUID, model_name: str) -> bool:
        """Whether any of the user's passages has a vector of `model_name`."""
        statement = select(
            exists().where(
                PassageEmbedding.user_id == user_id, PassageEmbedding.model == model_name
            )
        )
        async with database_errors_translated():
            return bool(await self.session.scalar(statement))

    async def _require_transaction(self) -> None:
        raw = await (await self.session.connection()).get_raw_connection()
        if getattr(raw.dbapi_connection, "autocommit", False):
            raise RuntimeError(
                "nearest() needs a transaction for its SET LOCAL index settings: "
                "use a unit_of_work() or get_db() session, not read_only()"
            )
