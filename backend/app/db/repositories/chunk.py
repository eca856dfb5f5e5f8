import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.sql.elements import TextClause

from app.db.models import Chunk
from app.db.repositories.base import BaseRepository, check_page, database_errors_translated


@dataclass(frozen=True, slots=True)
class NewChunk:
    """One chunk to store with `ChunkRepository.create_many`."""

    transcript_id: uuid.UUID
    user_id: uuid.UUID
    chunk_index: int
    chunk_text: str
    token_count: int
    # A dict, or an orjson.Fragment holding a JSON object serialised already.
    metadata: dict[str, Any] | orjson.Fragment = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "transcript_id": self.transcript_id,
            "user_id": self.user_id,
            "chunk_index": self.chunk_index,
            "chunk_text": self.chunk_text,
            "token_count": self.token_count,
            "meta": self.metadata,
        }


@dataclass(frozen=True, slots=True)
class ChunkHit:
    """A chunk that matched a full-text query, with its transcript's identity."""

    chunk_id: uuid.UUID
    transcript_id: uuid.UUID
    youtube_video_id: str
    title: str | None
    chunk_index: int
    chunk_text: str
    metadata: dict[str, Any]
    rank: float
    snippet: str
    matched_terms: int
    query_terms: int
    matched_weight: float = 0.0
    query_weight: float = 0.0

    @property
    def coverage(self) -> float:
        """The share of the query's distinct words (lexemes) found in this chunk or in its
        video's title (a question often names the video's subject, which the chunk may not),
        each word weighted by its rarity among the user's chunks: finding "PASC" says more
        than finding "stand"."""
        if self.query_weight > 0:
            return self.matched_weight / self.query_weight
        return self.matched_terms / self.query_terms if self.query_terms else 0.0


# Two readings of the query, both with the English configuration the search_vector column uses:
# "all": websearch_to_tsquery (quotes, OR, -word, every other word required), and
# "any": the query's own lexemes OR-ed, for questions that share only some words with the text.
_QUERIES = {
    "all": "websearch_to_tsquery('english', :query)",
    # Words in more chunks than the cap below are left out when the query has rarer ones that
    # occur: on a large library they match tens of thousands of chunks, each fetched and
    # ranked, and add almost nothing to the ranking. Their share still counts in the coverage.
    # (A rarer word found nowhere, a typo or a stem like "aliv", finds nothing in their place.)
    "any": """(SELECT string_agg(term::text, ' | ')::tsquery FROM lexemes
                WHERE NOT common
                   OR NOT EXISTS (SELECT FROM lexemes WHERE NOT common AND chunks > 0))""",
}

# Which chunks: those matching the query (and the transcripts asked for), or given ones.
_MATCHING = """c.search_vector @@ query.tsq
           AND (CAST(:transcript_ids AS uuid[]) IS NULL
                OR c.transcript_id = ANY(:transcript_ids))"""
_GIVEN = "c.id = ANY(:chunk_ids)"

# A word's weight is its rarity among the user's chunks, ln(1 + cap / chunks holding it), with
# the count stopped at the cap: a word in more chunks than that is common whatever the number,
# and counting no further keeps the cost bounded on large libraries.
DOCUMENT_FREQUENCY_CAP = 1000
# At most this many matching chunks are ranked. Only a question made of common words alone
# matches more (rarer words each match fewer than the cap above); its words say little, so
# ranking a bounded share of its matches costs little precision and keeps every search fast.
RANKED_MATCHES_CAP = 4 * DOCUMENT_FREQUENCY_CAP

# Rank and cut first, then headline only the survivors: ts_headline re-parses the text.
# `counted` is MATERIALIZED: inlined, its counts would run once for each use of `chunks`.
# ts_rank, not ts_rank_cd: an "any" query can match tens of thousands of chunks, which
# ts_rank_cd ranks about twice as slowly, with no gain on the labelled set (tests/retrieval).
_SEARCH = """
    WITH counted AS MATERIALIZED (
        SELECT quote_literal(lexeme)::tsquery AS term, chunks FROM ({frequencies}) AS counts
    ),
    lexemes AS (
        SELECT term, chunks, ln(1 + {df_cap}::float8 / greatest(1, chunks)) AS weight,
               chunks >= {df_cap} AS common
          FROM counted
    ),
    query AS (SELECT {tsquery} AS tsq),
    matching AS (
        SELECT c.id, c.transcript_id, c.chunk_index, c.chunk_text, c.metadata, c.search_vector
          FROM chunks c, query
         WHERE c.user_id = :user_id
           AND {chunks}
         LIMIT {scan_cap}
    ),
    top AS (
        SELECT m.*, coalesce(ts_rank(m.search_vector, query.tsq), 0) AS rank
          FROM matching m, query
         ORDER BY rank DESC, m.transcript_id, m.chunk_index
         LIMIT :limit
    )
    SELECT top.id, top.transcript_id, t.youtube_video_id, t.title, top.chunk_index,
           top.chunk_text, top.metadata, top.rank,
           coalesce(ts_headline('english', top.chunk_text, query.tsq,
                       'StartSel=**, StopSel=**, MaxWords=35, MinWords=15, MaxFragments=2'),
                    left(top.chunk_text, 240)),
           matched.terms, total.terms, coalesce(matched.weight, 0), coalesce(total.weight, 0)
      FROM top
      JOIN transcripts t ON t.id = top.transcript_id
      CROSS JOIN query
      CROSS JOIN LATERAL (
          SELECT count(*) AS terms, sum(weight) AS weight FROM lexemes
           WHERE (top.search_vector || to_tsvector('english', coalesce(t.title, '')))
                 @@ lexemes.term) AS matched
      CROSS JOIN (SELECT count(*) AS terms, sum(weight) AS weight FROM lexemes) AS total
     ORDER BY top.rank DESC, top.transcript_id, top.chunk_index
"""


# Each lexeme of the query with the number of the user's chunks holding it, counted up to the
# cap: one bitmap scan of the word's GIN entry each, and up to the cap's rows read from the heap.
_FREQUENCIES = """
    SELECT lexeme, (SELECT count(*) FROM (
                        SELECT 1 FROM chunks d
                         WHERE d.user_id = :user_id
                           AND d.search_vector @@ quote_literal(lexeme)::tsquery
                         LIMIT {df_cap}) AS matching) AS chunks
      FROM unnest(tsvector_to_array(to_tsvector('english', :query))) AS lexeme
"""
# The same, as counted before by `document_frequencies`.
_GIVEN_FREQUENCIES = """
    SELECT * FROM unnest(CAST(:lexemes AS text[]), CAST(:chunk_counts AS int[]))
                  AS given(lexeme, chunks)
"""

# Lexeme -> how many of the user's chunks hold it (at most DOCUMENT_FREQUENCY_CAP), in the
# query's lexeme order.
DocumentFrequencies = dict[str, int]


def _search_sql(tsquery: str, chunks: str, frequencies: DocumentFrequencies | None) -> str:
    return _SEARCH.format(
        frequencies=(
            _FREQUENCIES.format(df_cap=DOCUMENT_FREQUENCY_CAP)
            if frequencies is None
            else _GIVEN_FREQUENCIES
        ),
        tsquery=tsquery,
        chunks=chunks,
        df_cap=DOCUMENT_FREQUENCY_CAP,
        scan_cap=RANKED_MATCHES_CAP,
    )


class ChunkRepository(BaseRepository[Chunk]):
    model = Chunk

    async def create_many(self, chunks: Sequence[NewChunk]) -> list[uuid.UUID]:
        """Store a batch of chunks; returns their ids, in input order.

        One statement for the whole batch (an executemany, pipelined by asyncpg), and no
        RETURNING: sending every ~1 KB text back and building a Chunk per row cost more than the
        insert. The ids are generated here, so nothing needs to come back.
        ConflictError if a chunk_index repeats within a transcript.
        """
        if not chunks:
            return []
        rows = [chunk.as_row() for chunk in chunks]
        async with database_errors_translated():
            await self.session.execute(insert(Chunk), rows)
        return [row["id"] for row in rows]

    async def get_by_ids(
        self, chunk_ids: Sequence[uuid.UUID], user_id: uuid.UUID | None = None
    ) -> list[Chunk]:
        """The chunks with these ids (only the user's, when user_id is given), in input order."""
        if not chunk_ids:
            return []
        statement = select(Chunk).where(Chunk.id.in_(chunk_ids))
        if user_id is not None:
            statement = statement.where(Chunk.user_id == user_id)
        by_id = {chunk.id: chunk for chunk in await self.scalars(statement)}
        return [by_id[chunk_id] for chunk_id in chunk_ids if chunk_id in by_id]

    async def list_by_transcript(
        self, transcript_id: uuid.UUID, limit: int = 1000, offset: int = 0
    ) -> Sequence[Chunk]:
        """A page of the transcript's chunks in chunk_index order."""
        return await self.list(
            Chunk.transcript_id == transcript_id,
            order_by=[Chunk.chunk_index],
            limit=limit,
            offset=offset,
        )

    async def count_by_transcript(self, transcript_id: uuid.UUID) -> int:
        """How many chunks the transcript has."""
        return await self.count(Chunk.transcript_id == transcript_id)

    async def delete_by_transcript(self, transcript_id: uuid.UUID) -> int:
        """Delete every chunk of the transcript; returns how many were removed."""
        return await self.delete_where(Chunk.transcript_id == transcript_id)

    async def search(
        self,
        user_id: uuid.UUID,
        query: str,
        *,
        transcript_ids: Sequence[uuid.UUID] | None = None,
        limit: int = 10,
        match: str = "all",
        frequencies: DocumentFrequencies | None = None,
    ) -> list[ChunkHit]:
        """The user's chunks that match `query`, best first (full-text search, GIN index).

        match="all" needs every word (websearch syntax); match="any" needs one of them.
        `frequencies`, from `document_frequencies(user_id, query)`, saves counting them again.
        """
        check_page(limit, 0)
        statement = text(_search_sql(_QUERIES[match], _MATCHING, frequencies)).bindparams(
            bindparam("transcript_ids", type_=ARRAY(UUID(as_uuid=True))),
        )
        parameters = {
            "user_id": user_id,
            "query": query,
            "transcript_ids": list(transcript_ids) if transcript_ids is not None else None,
            "limit": limit,
        }
        return await self._hits(statement, parameters, frequencies)

    async def lexical_evidence(
        self,
        user_id: uuid.UUID,
        query: str,
        chunk_ids: Sequence[uuid.UUID],
        frequencies: DocumentFrequencies | None = None,
    ) -> list[ChunkHit]:
        """The user's chunks with these ids, each with its full-text rank against the query's
        words (0 when none occurs), its share of them and a headline: what `search(match="any")`
        says of a chunk, for chunks found another way."""
        if not chunk_ids:
            return []
        statement = text(_search_sql(_QUERIES["any"], _GIVEN, frequencies)).bindparams(
            bindparam("chunk_ids", type_=ARRAY(UUID(as_uuid=True))),
        )
        parameters = {
            "user_id": user_id,
            "query": query,
            "chunk_ids": list(chunk_ids),
            "limit": len(chunk_ids),
        }
        return await self._hits(statement, parameters, frequencies)

    async def document_frequencies(self, user_id: uuid.UUID, query: str) -> DocumentFrequencies:
        """How many of the user's chunks hold each of the query's lexemes, counted up to
        DOCUMENT_FREQUENCY_CAP: what `search` and `lexical_evidence` weigh words by. Counted
        once, they can be given to both."""
        statement = text(_FREQUENCIES.format(df_cap=DOCUMENT_FREQUENCY_CAP))
        async with database_errors_translated():
            rows = await self.session.execute(statement, {"user_id": user_id, "query": query})
        return {lexeme: int(chunks) for lexeme, chunks in rows}

    async def _hits(
        self,
        statement: TextClause,
        parameters: dict[str, Any],
        frequencies: DocumentFrequencies | None,
    ) -> list[ChunkHit]:
        if frequencies is not None:
            parameters |= {
                "lexemes": list(frequencies),
                "chunk_counts": list(frequencies.values()),
            }
        async with database_errors_translated():
            rows = (await self.session.execute(statement, parameters)).all()
        return [ChunkHit(*row) for row in rows]
