"""Storing a transcript with its chunks: one place for the upload routes and the ingest worker.

Parsing captions and chunking run in a worker process (app/services/transcript_text.py says
what it does there and why); this module stores what comes back.

The chunks' vectors are not computed here: an embed job is queued in the same transaction, and a
worker embeds their passages (app/services/passage_embeddings.py). Full-text search works meanwhile.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.core.config import Settings
from app.core.offload import run_in_process
from app.db.models import Transcript
from app.db.repositories import (
    ChunkRepository,
    JobRepository,
    NewChunk,
    NewPassage,
    PassageRepository,
    TranscriptRepository,
    UncutChunk,
)
from app.services.chapters import storing as chapters
from app.services.chunking import Segment
from app.services.passages import TextPassage, chunk_passages
from app.services.transcript_text import CaptionFile, ChunkOptions, TextSource, prepare_text
from app.services.usage_limits import check_stored_words
from app.services.webhooks.events import TRANSCRIPT_READY, record_event, transcript_ready_data


@dataclass(frozen=True, slots=True)
class NewTranscript:
    """A transcript to store: exactly one of `text`, `segments` and `captions`."""

    video_id: str
    text: str | None = None
    segments: Sequence[Segment] | None = None
    captions: CaptionFile | None = None
    title: str | None = None
    channel_name: str | None = None
    duration: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def text_source(transcript: NewTranscript) -> TextSource:
    if transcript.captions is not None:
        return transcript.captions
    if transcript.segments is not None:
        return [(s.text, s.start, s.duration) for s in transcript.segments]
    return transcript.text or ""


async def store_transcript(
    session: AsyncSession, user_id: UUID, transcript: NewTranscript, settings: Settings
) -> tuple[Transcript, int]:
    """Chunk and store, and queue the embed job; returns the transcript and its chunk count.
    Flushes only: the caller's unit of work commits all of it together, or none of it.
    ConflictError when the user already has this video; CaptionFileError for a bad file;
    QuotaExceededError when the user's library has no room for its words."""
    prepared = await run_in_process(
        prepare_text, text_source(transcript), ChunkOptions.of(settings)
    )
    await check_stored_words(session, user_id, prepared.word_count, settings)
    metadata: dict[str, Any] = dict(transcript.metadata)
    if prepared.segments_json is not None:
        # Embedded as it is: serialising it again on the event loop is what we avoid.
        metadata["segments"] = orjson.Fragment(prepared.segments_json)
    stored = await TranscriptRepository(session).create(
        user_id=user_id,
        youtube_video_id=transcript.video_id,
        transcript_text=prepared.full_text,
        word_count=prepared.word_count,
        language=prepared.language,
        title=transcript.title,
        channel_name=transcript.channel_name,
        duration=transcript.duration
        if transcript.duration is not None
        else prepared.timed_duration,
        metadata=metadata,
    )
    # The object keeps the caller's metadata: the segments are in the database (GET
    # /transcripts/{id}), not decoded back into this process only to be echoed.
    set_committed_value(stored, "meta", dict(transcript.metadata))
    chunk_ids = await ChunkRepository(session).create_many(
        [
            NewChunk(
                transcript_id=stored.id,
                user_id=user_id,
                chunk_index=piece.index,
                chunk_text=piece.text,
                token_count=piece.token_count,
                metadata=orjson.Fragment(piece.metadata_json),
            )
            for piece in prepared.chunks
        ]
    )
    await PassageRepository(session).create_many(
        [
            new_passage(passage, chunk_id, stored.id, user_id)
            for piece, chunk_id in zip(prepared.chunks, chunk_ids, strict=True)
            for passage in piece.passages
        ]
    )
    if settings.embeddings_enabled and prepared.chunks:
        await JobRepository(session).enqueue_embed(
            user_id=user_id,
            transcript_id=stored.id,
            video_id=transcript.video_id,
            max_attempts=settings.job_max_attempts,
        )
    else:  # nothing to embed: the transcript is as ready as it will be
        await session.flush()
        await chapters.find_and_store(session, stored, None)
        await record_event(
            session,
            user_id,
            TRANSCRIPT_READY,
            transcript_ready_data(stored.id, stored.youtube_video_id),
        )
    return stored, len(prepared.chunks)


def new_passage(
    passage: TextPassage, chunk_id: UUID, transcript_id: UUID, user_id: UUID
) -> NewPassage:
    return NewPassage(
        chunk_id=chunk_id,
        transcript_id=transcript_id,
        user_id=user_id,
        passage_index=passage.index,
        passage_text=passage.text,
        word_offset=passage.word_offset,
        start_seconds=passage.start,
        end_seconds=passage.end,
    )


def _passages_of(chunks: Sequence[UncutChunk]) -> list[NewPassage]:
    return [
        new_passage(passage, chunk.chunk_id, chunk.transcript_id, chunk.user_id)
        for chunk in chunks
        for passage in chunk_passages(chunk.chunk_text, chunk.metadata)
    ]


async def cut_missing_passages(
    session: AsyncSession, *, transcript_id: UUID | None = None, batch: int = 200
) -> int:
    """Cut into passages the chunks (of the transcript, or all) stored before passages
    existed: the backfill. Flushes a batch at a time; returns how many chunks were cut."""
    repository, cut = PassageRepository(session), 0
    while chunks := await repository.uncut_chunks(transcript_id=transcript_id, limit=batch):
        if not await repository.create_many(await asyncio.to_thread(_passages_of, chunks)):
            break  # chunks of white space alone: nothing to cut, now or later
        cut += len(chunks)
    return cut
