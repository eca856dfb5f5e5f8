"""Finding the passages of a user's videos that answer a question, with links to the moment."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories import ChunkHit, ChunkRepository
from app.services.youtube import watch_url


async def retrieve(
    session: AsyncSession,
    user_id: UUID,
    query: str,
    *,
    transcript_ids: Sequence[UUID] | None = None,
    limit: int = 10,
    min_coverage: float = 0.0,
) -> list[ChunkHit]:
    """The best-matching chunks: every word first; failing that, any of them.

    With min_coverage, a chunk must contain that share of the query's words: a question that
    shares one common word with a video is not about it.
    """
    chunks = ChunkRepository(session)
    hits = await chunks.search(user_id, query, transcript_ids=transcript_ids, limit=limit)
    if not hits:
        hits = await chunks.search(
            user_id, query, transcript_ids=transcript_ids, limit=limit, match="any"
        )
    return [hit for hit in hits if hit.coverage >= min_coverage]


def start_seconds(hit: ChunkHit) -> float | None:
    value = hit.metadata.get("start_seconds")
    return float(value) if value is not None else None


def deep_link(hit: ChunkHit) -> str:
    """The video at the moment the chunk starts (`https://youtu.be/{id}?t={seconds}`)."""
    return watch_url(hit.youtube_video_id, start_seconds(hit))


@dataclass(frozen=True, slots=True)
class Citation:
    number: int
    hit: ChunkHit

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "transcript_id": str(self.hit.transcript_id),
            "chunk_id": str(self.hit.chunk_id),
            "chunk_index": self.hit.chunk_index,
            "youtube_video_id": self.hit.youtube_video_id,
            "title": self.hit.title,
            "start_seconds": start_seconds(self.hit),
            "end_seconds": self.hit.metadata.get("end_seconds"),
            "url": deep_link(self.hit),
        }


def timestamp_label(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
