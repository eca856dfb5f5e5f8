import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select

from app.db.models import Chunk
from app.db.repositories.base import BaseRepository, database_errors_translated


@dataclass(frozen=True, slots=True)
class NewChunk:
    """One chunk to store with `ChunkRepository.create_many`."""

    transcript_id: uuid.UUID
    user_id: uuid.UUID
    chunk_index: int
    chunk_text: str
    token_count: int
    metadata: dict[str, Any] = field(default_factory=dict)

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


class ChunkRepository(BaseRepository[Chunk]):
    model = Chunk

    async def create_many(self, chunks: Sequence[NewChunk]) -> list[Chunk]:
        """Store a batch of chunks and return them in input order.

        One INSERT ... RETURNING carries up to 1,000 rows (SQLAlchemy's insertmanyvalues page),
        so a transcript's chunks cost one round trip per thousand, not one per chunk.
        ConflictError if a chunk_index repeats within a transcript.
        """
        if not chunks:
            return []
        rows = [chunk.as_row() for chunk in chunks]
        async with database_errors_translated():
            result = await self.session.scalars(insert(Chunk).returning(Chunk), rows)
            by_id = {chunk.id: chunk for chunk in result.all()}
        # The ids are generated here, so the input order is restored without asking PostgreSQL
        # to keep it (which would cost a sentinel column or one statement per row).
        return [by_id[row["id"]] for row in rows]

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
        result = await self.execute(delete(Chunk).where(Chunk.transcript_id == transcript_id))
        return int(result.rowcount)
