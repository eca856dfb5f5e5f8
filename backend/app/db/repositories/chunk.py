import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
from sqlalchemy import INTEGER, TEXT, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter, TextClause

from app.db.models import Chunk
from app.db.repositories.base import (
    BaseRepository,
    ModelT,
    RowPage,
    check_page,
    database_errors_translated,
)


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
    # The passage of the chunk that was found (app/services/passages.py), when found by one.
    passage: "PassageSpan | None" = None
    # The language its transcript is spoken in (transcripts.language), when known.
    language: str | None = None

    @property
    def coverage(self) -> float:
        """The share of the query's distinct words (lexemes) found in this chunk or in its
        video's title (a question often names the video's subject, which the chunk may not),
        each word weighted by its rarity among the user's chunks: finding "PASC" says more
        than finding "stand"."""
        if self.query_weight > 0:
            return self.matched_weight / self.query_weight
        return self.matched_terms / self.query_terms if self.query_terms else 0.0


@dataclass(frozen=True, slots=True)
class PassageSpan:
    """A passage inside a chunk: where its words are and when they are said."""

    passage_id: uuid.UUID
    index: int
    text: str
    word_offset: int
    start_seconds: float | None
    end_seconds: float | None


# A word's weight is its rarity among the user's chunks, ln(1 + cap / chunks holding it), with
# the count stopped at the cap: a word in more chunks than that is common whatever the number,
# and counting no further keeps the cost bounded on large libraries.
DOCUMENT_FREQUENCY_CAP = 1000
# At most this many matching chunks are ranked. Only a question made of common words alone
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
    column uses: its lexemes (as tsquery text, e.g. 'peopl'), how many of the user's chunks hold
    each (counted up to DOCUMENT_FREQUENCY_CAP), and its websearch reading. From
    `ChunkRepository.query_words`; `search` and `lexical_evidence` take it, so that it is
    counted once per question."""

    terms: tuple[str, ...]
    chunks: tuple[int, ...]
    websearch: str | None  # websearch_to_tsquery: quotes, OR, -word, every other word required

    def ranked_matches_cap(self, match: str) -> int:
        """How many matching chunks `search` ranks at most for this reading of the query."""
        if match == "any" and not self._rare_words_occur():
            return RANKED_COMMON_MATCHES_CAP
        return RANKED_MATCHES_CAP

    def _rare_words_occur(self) -> bool:
        return any(0 < chunks < DOCUMENT_FREQUENCY_CAP for chunks in self.chunks)

    def any_word_query(self) -> str | None:
        """The lexemes OR-ed, for questions that share only some words with the text.

        Words in more chunks than the cap are left out when the query has rarer ones that
        occur: on a large library they match tens of thousands of chunks, each fetched and
        ranked, and add almost nothing to the ranking. Their share still counts in the
        coverage. (A rarer word found nowhere, a typo or a stem like "aliv", finds nothing in
        their place.)"""
        kept = list(self.terms)
        if self._rare_words_occur():
            pairs = zip(self.terms, self.chunks, strict=True)
            kept = [term for term, chunks in pairs if chunks < DOCUMENT_FREQUENCY_CAP]
        return " | ".join(kept) or None


# Each tsquery reaches the planner as a constant (with plan_cache_mode = force_custom_plan):
# it then estimates how many chunks a word matches, and for a common one reads the user's
# chunks until the limit instead of decoding the word's whole GIN posting list (150,000 entries
# on a large library) into a bitmap first.
_PLANNER_SEES_VALUES = text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)")

_LEXEMES = text("""
    SELECT array_agg(quote_literal(lexeme)::tsquery::text ORDER BY ordinality) AS terms,
           websearch_to_tsquery('english', :query)::text AS websearch
      FROM unnest(tsvector_to_array(to_tsvector('english', :query))) WITH ORDINALITY AS lexeme
""")

# How many of the user's chunks hold a word, counted up to the cap: a scalar subquery per word.
_COUNT_WORD = """(SELECT count(*) FROM (
                     SELECT 1 FROM {table} d
                      WHERE d.user_id = :user_id AND d.search_vector @@ CAST(:term_{n} AS tsquery)
                      LIMIT {df_cap}) AS matching)"""

# Which chunks: those matching the query (and the transcripts asked for), or given ones.
_MATCHING_CHUNKS = """c.search_vector @@ CAST(:tsquery AS tsquery)
           AND (CAST(:transcript_ids AS uuid[]) IS NULL
                OR c.transcript_id = ANY(:transcript_ids))"""
_GIVEN_CHUNKS = "c.id = ANY(:chunk_ids)"
# The two searches of a FullTextSearch repository, naming its statements.
MATCHING = "matching"
GIVEN = "given"

# Rank and cut first, then headline only the survivors: ts_headline re-parses the text.
# ts_rank, not ts_rank_cd: an "any" query can match tens of thousands of chunks, which
# ts_rank_cd ranks about twice as slowly, with no gain on the labelled set (tests/retrieval).
# Shared by the searches over chunks and passages (passage.py): the question's lexemes with
# their rarity weights, and each hit's share of them (in its text or its video's title).
LEXEMES_AND_QUERY = f"""lexemes AS MATERIALIZED (
        SELECT CAST(term AS tsquery) AS term,
               ln(1 + {DOCUMENT_FREQUENCY_CAP}::float8 / greatest(1, counted)) AS weight
          FROM unnest(CAST(:terms AS text[]), CAST(:term_counts AS int[])) AS given(term, counted)
    ),
    query AS (SELECT CAST(:tsquery AS tsquery) AS tsq),"""  # noqa: S608 - a constant, no input
COVERAGE = """      CROSS JOIN query
      CROSS JOIN LATERAL (
          SELECT count(*) AS terms, sum(weight) AS weight FROM lexemes
           WHERE (top.search_vector || to_tsvector('english', coalesce(t.title, '')))
                 @@ lexemes.term) AS matched
      CROSS JOIN (SELECT count(*) AS terms, sum(weight) AS weight FROM lexemes) AS total"""

_SEARCH = """
    WITH {lexemes_and_query}
    matching AS (
        SELECT c.id, c.transcript_id, c.chunk_index, c.chunk_text, c.metadata, c.search_vector
          FROM chunks c
         WHERE c.user_id = :user_id
           AND {chunks}
         LIMIT :ranked_cap
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
{coverage}
     ORDER BY top.rank DESC, top.transcript_id, top.chunk_index
"""


def search_sql(chunks: str) -> str:
    """The search statement for chunks matching `query` or given ones (the WHERE fragment)."""
    return _SEARCH.format(chunks=chunks, lexemes_and_query=LEXEMES_AND_QUERY, coverage=COVERAGE)


def count_words_sql(words: int, table: str = "chunks") -> str:
    """One row: how many of the user's rows of `table` (chunks, or passages) hold each of
    `words` words (:term_0, ...)."""
    counts = [
        _COUNT_WORD.format(n=n, df_cap=DOCUMENT_FREQUENCY_CAP, table=table) for n in range(words)
    ]
    return "SELECT " + ", ".join(counts)


async def read_query_words(
    session: AsyncSession, user_id: uuid.UUID, query: str, table: str
) -> QueryWords:
    """The query's lexemes, how many of the user's rows of `table` (chunks or passages) hold
    each, and its websearch reading. Sets plan_cache_mode for the rest of the transaction (see
    _PLANNER_SEES_VALUES)."""
    async with database_errors_translated():
        await session.execute(_PLANNER_SEES_VALUES)
        row = (await session.execute(_LEXEMES, {"query": query})).one()
        terms = tuple(row.terms or ())
        counted: tuple[int, ...] = ()
        if terms:
            parameters: dict[str, Any] = {"user_id": user_id}
            parameters |= {f"term_{n}": term for n, term in enumerate(terms)}
            counts = await session.execute(text(count_words_sql(len(terms), table)), parameters)
            counted = tuple(int(count) for count in counts.one())
    return QueryWords(terms, counted, row.websearch or None)


def search_statements(
    sql_for: Callable[[str], str], matching: str, given: str, given_ids: str
) -> dict[str, TextClause]:
    """The search statement over the rows `matching` selects (in the caller's transcripts) and
    over the rows `given` selects (named by `given_ids`), with the query words' parameters."""

    def ids(name: str) -> BindParameter[Any]:
        return bindparam(name, type_=ARRAY(UUID(as_uuid=True)))

    words = (
        bindparam("terms", type_=ARRAY(TEXT)),
        bindparam("term_counts", type_=ARRAY(INTEGER)),
    )
    return {
        MATCHING: text(sql_for(matching)).bindparams(ids("transcript_ids"), *words),
        GIVEN: text(sql_for(given)).bindparams(ids(given_ids), *words),
    }


_SEARCH_STATEMENTS = search_statements(search_sql, _MATCHING_CHUNKS, _GIVEN_CHUNKS, "chunk_ids")


class FullTextSearch(BaseRepository[ModelT]):
    """Full-text search over a table of texts with a `search_vector` (chunks, passages): the
    query's words read and counted once (`query_words`), then the matching rows ranked
    (`search`) or given rows scored against them (`lexical_evidence`). A subclass names its
    table, its two statements (by MATCHING rows, by GIVEN ids) and how a row becomes a hit."""

    table: ClassVar[str]
    ids_parameter: ClassVar[str]  # the bound array of `lexical_evidence`'s given ids
    statements: ClassVar[dict[str, TextClause]]

    @staticmethod
    def hit(row: Sequence[Any]) -> ChunkHit:
        raise NotImplementedError

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
        """The user's chunks that match `query`, best first (full-text search, GIN index).

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
        return await self._hits(MATCHING, user_id, words, parameters)

    async def lexical_evidence(
        self,
        user_id: uuid.UUID,
        query: str,
        chunk_ids: Sequence[uuid.UUID],
        words: QueryWords | None = None,
    ) -> list[ChunkHit]:
        """The user's chunks with these ids, each with its full-text rank against the query's
        words (0 when none occurs), its share of them and a headline: what `search(match="any")`
        says of a chunk, for chunks found another way."""
        if not chunk_ids:
            return []
        words = words or await self.query_words(user_id, query)
        parameters = {
            "tsquery": words.any_word_query(),
            "ranked_cap": len(chunk_ids),
            self.ids_parameter: list(chunk_ids),
            "limit": len(chunk_ids),
        }
        return await self._hits(GIVEN, user_id, words, parameters)

    async def query_words(self, user_id: uuid.UUID, query: str) -> QueryWords:
        """The query's lexemes, how many of the user's chunks hold each (up to
        DOCUMENT_FREQUENCY_CAP) and its websearch reading: what `search` and
        `lexical_evidence` need, read once. Sets plan_cache_mode for the rest of the
        transaction (see _PLANNER_SEES_VALUES)."""
        return await read_query_words(self.session, user_id, query, self.table)

    async def _hits(
        self, which: str, user_id: uuid.UUID, words: QueryWords, parameters: dict[str, Any]
    ) -> list[ChunkHit]:
        parameters |= {
            "user_id": user_id,
            "terms": list(words.terms),
            "term_counts": list(words.chunks),
        }
        async with database_errors_translated():
            rows = (await self.session.execute(self.statements[which], parameters)).all()
        return [self.hit(row) for row in rows]


class ChunkRepository(FullTextSearch[Chunk]):
    model = Chunk
    table = "chunks"
    ids_parameter = "chunk_ids"
    statements = _SEARCH_STATEMENTS

    @staticmethod
    def hit(row: Sequence[Any]) -> ChunkHit:
        return ChunkHit(*row)

    async def create_many(self, chunks: Sequence[NewChunk]) -> list[uuid.UUID]:
        """Store a batch of chunks; returns their ids, in input order.

        Executemany statements of 500 rows (pipelined by asyncpg; the event loop is free between
        them), and no RETURNING: sending every ~1 KB text back and building a Chunk per row
        cost more than the insert. The ids are generated here, so nothing needs to come back.
        ConflictError if a chunk_index repeats within a transcript.
        """
        if not chunks:
            return []
        rows = [chunk.as_row() for chunk in chunks]
        await self._insert_rows(rows)
        return [row["id"] for row in rows]

    async def page_for_transcript(
        self, transcript_id: uuid.UUID, *, limit: int = 1000, offset: int = 0
    ) -> RowPage[Chunk]:
        """A page of the transcript's chunks in chunk_index order."""
        return await self._page(
            Chunk.transcript_id == transcript_id,
            order_by=[Chunk.chunk_index],
            limit=limit,
            offset=offset,
        )
