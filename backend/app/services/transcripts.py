"""Storing a transcript with its chunks: one place for the upload routes and the ingest worker.

The chunks' vectors are not computed here: an embed job is queued in the same transaction, and a
worker embeds them (app/services/chunk_embeddings.py). Full-text search works meanwhile.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.db.models import Transcript
from app.db.repositories import ChunkRepository, JobRepository, NewChunk, TranscriptRepository
from app.services.chunking import Segment, TextChunk, chunk_segments, chunk_text


@dataclass(frozen=True, slots=True)
class NewTranscript:
    video_id: str
    text: str | None = None
    segments: Sequence[Segment] | None = None
    title: str | None = None
    channel_name: str | None = None
    duration: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def full_text(self) -> str:
        if self.segments is not None:
            return " ".join(segment.text.strip() for segment in self.segments)
        return self.text or ""


def split_into_chunks(transcript: NewTranscript, settings: Settings) -> list[TextChunk]:
    options = (settings.chunk_tokens, settings.chunk_overlap, settings.tokenizer_encoding)
    if transcript.segments is not None:
        return chunk_segments(transcript.segments, *options)
    return chunk_text(transcript.full_text(), *options)


def chunk_metadata(chunk: TextChunk) -> dict[str, float]:
    if chunk.start is None or chunk.end is None:
        return {}
    return {"start_seconds": round(chunk.start, 3), "end_seconds": round(chunk.end, 3)}


async def store_transcript(
    session: AsyncSession, user_id: UUID, transcript: NewTranscript, settings: Settings
) -> tuple[Transcript, int]:
    """Chunk and store, and queue the embed job; returns the transcript and its chunk count.
    Flushes only: the caller's unit of work commits all of it together, or none of it.
    ConflictError when the user already has this video."""
    # Tokenising a long transcript takes tens of milliseconds: keep it off the event loop.
    pieces = await run_in_threadpool(split_into_chunks, transcript, settings)
    metadata = dict(transcript.metadata)
    if transcript.segments is not None:
        metadata["segments"] = [
            {"text": s.text, "start": s.start, "duration": s.duration} for s in transcript.segments
        ]
    stored = await TranscriptRepository(session).create(
        user_id=user_id,
        youtube_video_id=transcript.video_id,
        transcript_text=transcript.full_text(),
        title=transcript.title,
        channel_name=transcript.channel_name,
        duration=transcript.duration,
        metadata=metadata,
    )
    await ChunkRepository(session).create_many(
        [
            NewChunk(
                transcript_id=stored.id,
                user_id=user_id,
                chunk_index=piece.index,
                chunk_text=piece.text,
                token_count=piece.token_count,
                metadata=chunk_metadata(piece),
            )
            for piece in pieces
        ]
    )
    if settings.embeddings_enabled and pieces:
        await JobRepository(session).enqueue_embed(
            user_id=user_id,
            transcript_id=stored.id,
            video_id=transcript.video_id,
            max_attempts=settings.job_max_attempts,
        )
    return stored, len(pieces)
