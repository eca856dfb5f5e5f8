"""Passages: storing them, finding chunks still without them, and full-text search over them.

Full-text search reads the question's words once (`query_words`: its lexemes and how many of the
user's passages hold each, a rarer word weighing more), then ranks the passages that match
(`search`) or scores given ones against them (`lexical_evidence`). Each hit is the passage's
chunk with the passage in it (`ChunkHit`), which is what an answer quotes and a hit names.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import INTEGER, TEXT, bindparam, exists, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.sql.elements import BindParameter, TextClause

from app.db.errors import database_errors_translated
from app.db.models import Chunk, Passage
from app.db.repositories.base import BaseRepository, NewRow
from app.db.repositories.chunk import ChunkHit, PassageSpan
from app.db.repositories.paging import check_page


@dataclass(frozen=True, slots=True)
class NewPassage(NewRow):
    """One passage to store with `PassageRepository.create_many`."""

    chunk_id: uuid.UUID
    transcript_id: uuid.UUID
    user_id: uuid.UUID
    passage_index: int
    passage_text: str
    word_offset: int
    start_seconds: float | None
    end_seconds: float | None


@dataclass(frozen=True, slots=True)
class UncutChunk:
    """A chunk that has no passages yet (stored before passages existed)."""

    chunk_id: uuid.UUID
    transcript_id: uuid.UUID
    user_id: uuid.UUID
    chunk_text: str
    metadata: dict[str, Any]


# A word's weight is its rarity among the user's passages, ln(1 + cap / passages holding it),
# with the count stopped at the cap: a word in more passages than that is common whatever the
# number, and counting no further keeps the cost bounded on large libraries.
DOCUMENT_FREQUENCY_CAP = 1000
# At most this many matching passages are ranked. Only a question made of common words alone
# matches more (rarer words each match fewer than the cap above); its words say little, so
# ranking a bounded share of its matches costs little precision and keeps every search fast.
RANKED_MATCHES_CAP = 4 * DOCUMENT_FREQUENCY_CAP
# When the question's rarer words occur nowhere, its common words are searched instead: every
# one of their tens of thousands of matches is as good a candidate as another, and ranking a
# quarter as many reads a quarter as many rows (a common word's matches are read in heap order).
RANKED_COMMON_MATCHES_CAP = DOCUMENT_FREQUENCY_CAP


@dataclass(frozen=True, slots=True)
class QueryWords:
    """A query read for full-text search, with the English configuration the search_vector
    column uses: its lexemes (as tsquery text, e.g. 'peopl'), how many of the user's passages
    hold each (counted up to DOCUMENT_FREQUENCY_CAP), and its websearch reading. From
    `PassageRepository.query_words`; `search` and `lexical_evidence` take it, so that it is
    counted once per question."""

    terms: tuple[str, ...]
    counts: tuple[int, ...]
    websearch: str | None  # websearch_to_tsquery: quotes, OR, -word, every other word required

    def ranked_matches_cap(self, match: str) -> int:
        """How many matching passages `search` ranks at most for this reading of the query."""
        if match == "any" and not self._rare_words_occur():
            return RANKED_COMMON_MATCHES_CAP
        return RANKED_MATCHES_CAP

    def _rare_words_occur(self) -> bool:
        return any(0 < count < DOCUMENT_FREQUENCY_CAP for count in self.counts)

    def any_word_query(self) -> str | None:
        """The lexemes OR-ed, for questions that share only some words with the text.

        Words in more passages than the cap are left out when the query has rarer ones that
        occur: on a large library they match tens of thousands of passages, each fetched and
        ranked, and add almost nothing to the ranking. Their share still counts in the
        coverage. (A rarer word found nowhere, a typo or a stem like "aliv", finds nothing in
        their place.)"""
        kept = list(self.terms)
        if self._rare_words_occur():
            pairs = zip(self.terms, self.counts, strict=True)
            kept = [term for term, count in pairs if count < DOCUMENT_FREQUENCY_CAP]
        return " | ".join(kept) or None


# Each tsquery reaches the planner as a constant (with plan_cache_mode = force_custom_plan):
# it then estimates how many passages a word matches, and for a common one reads the user's
# passages until the limit instead of decoding the word's whole GIN posting list (150,000
# entries on a large library) into a bitmap first.
_PLANNER_SEES_VALUES = text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)")

_LEXEMES = text("""
    SELECT array_agg(quote_literal(lexeme)::tsquery::text ORDER BY ordinality) AS terms,
           websearch_to_tsquery('english', :query)::text AS websearch
      FROM unnest(tsvector_to_array(to_tsvector('english', :query))) WITH ORDINALITY AS lexeme
""")

# How many of the user's passages hold a word, counted up to the cap: a scalar subquery a word.
_COUNT_WORD = """(SELECT count(*) FROM (
                     SELECT 1 FROM passages p
                      WHERE p.user_id = :user_id AND p.search_vector @@ CAST(:term_{n} AS tsquery)
                      LIMIT {df_cap}) AS matching)"""

# Which passages: those matching the query (and the transcripts asked for), or given ones.
_MATCHING_PASSAGES = """p.search_vector @@ CAST(:tsquery AS tsquery)
           AND (CAST(:transcript_ids AS uuid[]) IS NULL
                OR p.transcript_id = ANY(:transcript_ids))"""
_GIVEN_PASSAGES = "p.id = ANY(:passage_ids)"

# Rank and cut first, then headline only the survivors: ts_headline re-parses the text.
# ts_rank, not ts_rank_cd: an "any" query can match tens of thousands of passages, which
# ts_rank_cd ranks about twice as slowly, with no gain on the labelled set (tests/retrieval).
# The question's lexemes come with their rarity weights, and each hit with its share of them
# (in its text or its video's title).
_SEARCH = f"""
    WITH lexemes AS MATERIALIZED (
        SELECT CAST(term AS tsquery) AS term,
               ln(1 + {DOCUMENT_FREQUENCY_CAP}::float8 / greatest(1, counted)) AS weight
          FROM unnest(CAST(:terms AS text[]), CAST(:term_counts AS int[])) AS given(term, counted)
    ),
    query AS (SELECT CAST(:tsquery AS tsquery) AS tsq),
    matching AS (
        SELECT p.id, p.chunk_id, p.transcript_id, p.passage_index, p.passage_text,
               p.word_offset, p.start_seconds, p.end_seconds, p.search_vector
          FROM passages p
         WHERE p.user_id = :user_id
           AND {{passages}}
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
      CROSS JOIN query
      CROSS JOIN LATERAL (
          SELECT count(*) AS terms, sum(weight) AS weight FROM lexemes
           WHERE (top.search_vector || to_tsvector('english', coalesce(t.title, '')))
                 @@ lexemes.term) AS matched
      CROSS JOIN (SELECT count(*) AS terms, sum(weight) AS weight FROM lexemes) AS total
     ORDER BY top.rank DESC, top.id
"""  # noqa: S608 - constants, no input


def search_sql(passages: str) -> str:
    """The search statement over the passages the WHERE fragment `passages` selects."""
    return _SEARCH.format(passages=passages)


def count_words_sql(words: int) -> str:
    """One row: how many of the user's passages hold each of `words` words (:term_0, ...)."""
    counts = [_COUNT_WORD.format(n=n, df_cap=DOCUMENT_FREQUENCY_CAP) for n in range(words)]
    return "SELECT " + ", ".join(counts)


def _uuids(name: str) -> BindParameter[Any]:
    return bindparam(name, type_=ARRAY(UUID(as_uuid=True)))


_WORDS = (bindparam("terms", type_=ARRAY(TEXT)), bindparam("term_counts", type_=ARRAY(INTEGER)))
_SEARCH_MATCHING = text(search_sql(_MATCHING_PASSAGES)).bindparams(
    _uuids("transcript_ids"), *_WORDS
)
_SEARCH_GIVEN = text(search_sql(_GIVEN_PASSAGES)).bindparams(_uuids("passage_ids"), *_WORDS)


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


class PassageRepository(BaseRepository[Passage]):
    model = Passage

    async def query_words(self, user_id: uuid.UUID, query: str) -> QueryWords:
        """The query's lexemes, how many of the user's passages hold each (up to
        DOCUMENT_FREQUENCY_CAP) and its websearch reading: what `search` and
        `lexical_evidence` need, read once. Sets plan_cache_mode for the rest of the
        transaction (see _PLANNER_SEES_VALUES)."""
        async with database_errors_translated():
            await self.session.execute(_PLANNER_SEES_VALUES)
            row = (await self.session.execute(_LEXEMES, {"query": query})).one()
            terms = tuple(row.terms or ())
            counted: tuple[int, ...] = ()
            if terms:
                parameters: dict[str, Any] = {"user_id": user_id}
                parameters |= {f"term_{n}": term for n, term in enumerate(terms)}
                counts = await self.session.execute(text(count_words_sql(len(terms))), parameters)
                counted = tuple(int(count) for count in counts.one())
        return QueryWords(terms, counted, row.websearch or None)

    async def search(
        self,
        user_id: uuid.UUID,
        query: str,
        *,
        transcript_ids: Sequence[uuid.UUID] | None = None,
        limit: int = 10,
        match: str = "all",
        words: QueryWords | None = None,
    ) -> list[ChunkHit]:
        """The user's passages that match `query`, best first (full-text search, GIN index),
        each as its chunk with the passage in it.

        match="all" needs every word (websearch syntax); match="any" needs one of them.
        `words`, from `query_words(user_id, query)`, saves reading the query again.
        """
        check_page(limit, 0)
        if match not in ("all", "any"):
            raise ValueError(f"match must be 'all' or 'any', not {match!r}")
        words = words or await self.query_words(user_id, query)
        parameters = {
            "tsquery": words.websearch if match == "all" else words.any_word_query(),
            "ranked_cap": words.ranked_matches_cap(match),
            "transcript_ids": list(transcript_ids) if transcript_ids is not None else None,
            "limit": limit,
        }
        return await self._hits(_SEARCH_MATCHING, user_id, words, parameters)

    async def lexical_evidence(
        self,
        user_id: uuid.UUID,
        query: str,
        passage_ids: Sequence[uuid.UUID],
        words: QueryWords | None = None,
    ) -> list[ChunkHit]:
        """The user's passages with these ids, each with its full-text rank against the
        query's words (0 when none occurs), its share of them and a headline: what
        `search(match="any")` says of a passage, for passages found another way."""
        if not passage_ids:
            return []
        words = words or await self.query_words(user_id, query)
        parameters = {
            "tsquery": words.any_word_query(),
            "ranked_cap": len(passage_ids),
            "passage_ids": list(passage_ids),
            "limit": len(passage_ids),
        }
        return await self._hits(_SEARCH_GIVEN, user_id, words, parameters)

    async def _hits(
        self,
        statement: TextClause,
        user_id: uuid.UUID,
        words: QueryWords,
        parameters: dict[str, Any],
    ) -> list[ChunkHit]:
        parameters |= {
            "user_id": user_id,
            "terms": list(words.terms),
            "term_counts": list(words.counts),
        }
        async with database_errors_translated():
            rows = (await self.session.execute(statement, parameters)).all()
        return [_hit(row) for row in rows]

    async def create_many(self, passages: Sequence[NewPassage]) -> list[uuid.UUID]:
        """Store a batch of passages; returns their ids, in input order."""
        return await self._insert_new(passages)

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
