"""Chunks: storing a transcript's chunks and reading them in order; and what a search finds, a
chunk with the passage of it that matched (`ChunkHit`; the search is `PassageRepository`'s)."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from app.db.models import Chunk
from app.db.repositories.base import BaseRepository, NewRow
from app.db.repositories.paging import MAX_PAGE_SIZE, PageRequest, RowPage

# What a transcript's chunks are read as unless a page is asked for: as many as a page can hold.
WHOLE_TRANSCRIPT = PageRequest(limit=MAX_PAGE_SIZE)


@dataclass(frozen=True, slots=True)
class NewChunk(NewRow):
    """One chunk to store with `ChunkRepository.create_many`."""

    renamed: ClassVar[Mapping[str, str]] = {"metadata": "meta"}

    transcript_id: uuid.UUID
    user_id: uuid.UUID
    chunk_index: int
    chunk_text: str
    token_count: int
    # A dict, or an orjson.Fragment holding a JSON object serialised already.
    metadata: dict[str, Any] | orjson.Fragment = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChunkHit:
    """A chunk found for a question (by the words or the meaning of one of its passages), with
    its transcript's identity."""

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
        each word weighted by its rarity among the user's passages: finding "PASC" says more
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


class ChunkRepository(BaseRepository[Chunk]):
    model = Chunk

    async def create_many(self, chunks: Sequence[NewChunk]) -> list[uuid.UUID]:
        """Store a batch of chunks; returns their ids, in input order.

        Executemany statements of 500 rows (pipelined by asyncpg; the event loop is free between
        them), and no RETURNING: sending every ~1 KB text back and building a Chunk per row
        cost more than the insert. The ids are generated here, so nothing needs to come back.
        ConflictError if a chunk_index repeats within a transcript.
        """
        return await self._insert_new(chunks)

    async def page_for_transcript(
        self, transcript_id: uuid.UUID, page: PageRequest = WHOLE_TRANSCRIPT
    ) -> RowPage[Chunk]:
        """A page of the transcript's chunks in chunk_index order."""
        return await self._page(
            Chunk.transcript_id == transcript_id,
            order_by=[Chunk.chunk_index],
            page=page,
        )
