"""Passages: storing them, finding chunks still without them, and full-text search over them.

Full-text search over passages works as over chunks (app/db/repositories/chunk.py: the query's
words read and counted once, rarer words weighted more), but ranks passages and returns each
with its chunk, which is what an answer quotes and a hit names.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select

from app.db.models import Chunk, Passage
from app.db.repositories.base import check_page, database_errors_translated
from app.db.repositories.chunk import (
    COVERAGE,
    LEXEMES_AND_QUERY,
    ChunkHit,
    FullTextSearch,
    PassageSpan,
    search_statements,
)


@dataclass(frozen=True, slots=True)
class NewPassage:
    """One passage to store with `PassageRepository.create_many`."""

    chunk_id: uuid.UUID
    transcript_id: uuid.UUID
    user_id: uuid.UUID
    passage_index: int
    passage_text: str
    word_offset: int
    start_seconds: float | None
    end_seconds: float | None

    def as_row(self) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "chunk_id": self.chunk_id,
            "transcript_id": self.transcript_id,
            "user_id": self.user_id,
            "passage_index": self.passage_index,
            "passage_text": self.passage_text,
            "word_offset": self.word_offset,
            "start_seconds": self.start_seconds,
            "end_seconds": self.end_seconds,
        }


@dataclass(frozen=True, slots=True)
class UncutChunk:
    """A chunk that has no passages yet (stored before passages existed)."""

    chunk_id: uuid.UUID
    transcript_id: uuid.UUID
    user_id: uuid.UUID
    chunk_text: str
    metadata: dict[str, Any]


_MATCHING_PASSAGES = """p.search_vector @@ CAST(:tsquery AS tsquery)
           AND (CAST(:transcript_ids AS uuid[]) IS NULL
                OR p.transcript_id = ANY(:transcript_ids))"""
_GIVEN_PASSAGES = "p.id = ANY(:passage_ids)"

# As chunk.py's search: rank and cut first, then headline only the survivors.
_SEARCH = """
    WITH {lexemes_and_query}
    matching AS (
        SELECT p.id, p.chunk_id, p.transcript_id, p.passage_index, p.passage_text,
               p.word_offset, p.start_seconds, p.end_seconds, p.search_vector
          FROM passages p
         WHERE p.user_id = :user_id
           AND {passages}
         LIMIT :ranked_cap
    ),
    top AS (
        SELECT m.*, coalesce(ts_rank(m.search_vector, query.tsq), 0) AS rank
          FROM matching m, query
         ORDER BY rank DESC, m.id
         LIMIT :limit
    )
    SELECT c.id, top.transcript_id, t.youtube_video_id, t.title, c.chunk_index,
           c.chunk_text, c.metadata, top.rank,
           coalesce(ts_headline('english', top.passage_text, query.tsq,
                       'StartSel=**, StopSel=**, MaxWords=35, MinWords=15, MaxFragments=2'),
                    left(top.passage_text, 240)),
           matched.terms, total.terms, coalesce(matched.weight, 0), coalesce(total.weight, 0),
           top.id, top.passage_index, top.passage_text, top.word_offset,
           top.start_seconds, top.end_seconds, t.language
      FROM top
      JOIN chunks c ON c.id = top.chunk_id
      JOIN transcripts t ON t.id = top.transcript_id
{coverage}
     ORDER BY top.rank DESC, top.id
"""


def _search_sql(passages: str) -> str:
    return _SEARCH.format(passages=passages, lexemes_and_query=LEXEMES_AND_QUERY, coverage=COVERAGE)


_STATEMENTS = search_statements(_search_sql, _MATCHING_PASSAGES, _GIVEN_PASSAGES, "passage_ids")


def _hit(row: Sequence[Any]) -> ChunkHit:
    (chunk_id, transcript_id, video_id, title, chunk_index, chunk_text, metadata, rank) = row[:8]
    snippet, matched_terms, query_terms, matched_weight, query_weight = row[8:13]
    return ChunkHit(
        chunk_id,
        transcript_id,
        video_id,
        title,
        chunk_index,
        chunk_text,
        metadata,
        rank,
        snippet,
        matched_terms,
        query_terms,
        matched_weight,
        query_weight,
        passage=PassageSpan(*row[13:19]),
        language=row[19],
    )


class PassageRepository(FullTextSearch[Passage]):
    model = Passage
    table = "passages"
    ids_parameter = "passage_ids"
    statements = _STATEMENTS

    @staticmethod
    def hit(row: Sequence[Any]) -> ChunkHit:
        return _hit(row)

    async def create_many(self, passages: Sequence[NewPassage]) -> list[uuid.UUID]:
        """Store a batch of passages; returns their ids, in input order."""
        if not passages:
            return []
        rows = [passage.as_row() for passage in passages]
        await self._insert_rows(rows)
        return [row["id"] for row in rows]

    async def uncut_chunks(
        self, *, transcript_id: uuid.UUID | None = None, limit: int = 100
    ) -> list[UncutChunk]:
        """Chunks (of one transcript, or all) that have no passage yet, in id order."""
        check_page(limit, 0)
        has_passage = exists().where(Passage.chunk_id == Chunk.id)
        statement = select(
            Chunk.id, Chunk.transcript_id, Chunk.user_id, Chunk.chunk_text, Chunk.meta
        ).where(~has_passage)
        if transcript_id is not None:
            statement = statement.where(Chunk.transcript_id == transcript_id)
        async with database_errors_translated():
            rows = await self.session.execute(statement.order_by(Chunk.id).limit(limit))
        return [UncutChunk(*row) for row in rows]
