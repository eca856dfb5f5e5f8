"""Storing a transcript with its chunks: one place for the upload routes and the ingest worker.

Parsing captions and chunking are pure Python and hold the GIL for up to a second on a large
file, so they run in a worker process (app/core/offload.py). What crosses to that process and
back is strings, plain tuples and a short list of chunks: pickling tens of thousands of segment
objects would cost the event loop as much as the work itself.

The chunks' vectors are not computed here: an embed job is queued in the same transaction, and a
worker embeds their passages (app/services/passage_embeddings.py). Full-text search works meanwhile.
"""

import asyncio
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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
from app.services import chapters
from app.services.captions import parse_captions
from app.services.chunking import Segment, TextChunk, chunk_segments, chunk_text
from app.services.language import spoken_language
from app.services.passages import TextPassage, chunk_passages
from app.services.text_units import spaced
from app.services.usage_limits import check_stored_words
from app.services.webhooks.events import TRANSCRIPT_READY, record_event, transcript_ready_data


@dataclass(frozen=True, slots=True)
class CaptionFile:
    """An SRT or WebVTT file's text, parsed in the worker process."""

    content: str
    format: str


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


@dataclass(frozen=True, slots=True)
class ChunkOptions:
    max_tokens: int
    overlap: float
    encoding: str

    @classmethod
    def of(cls, settings: Settings) -> "ChunkOptions":
        return cls(settings.chunk_tokens, settings.chunk_overlap, settings.tokenizer_encoding)


# What the worker process receives: the caption file, plain (text, start, duration) tuples, or
# the plain text.
TextSource = CaptionFile | list[tuple[str, float, float]] | str


@dataclass(frozen=True, slots=True)
class PreparedChunk:
    index: int
    text: str
    token_count: int
    metadata_json: bytes  # serialised in the worker process, stored as it is
    passages: list[TextPassage]


@dataclass(frozen=True, slots=True)
class PreparedTranscript:
    """What the worker process returns: cheap to send back."""

    full_text: str  # as it was sent, in composed form (NFC): what a reader gets back
    chunks: list[PreparedChunk]
    segments_json: bytes | None  # the timed segments as a JSON array, kept in the metadata
    timed_duration: int | None  # the last cue's end, when the text is timed
    word_count: int  # counted against the owner's stored-words quota
    language: str | None  # the language it is spoken in (app/services/language.py)


def prepare_text(source: TextSource, options: ChunkOptions) -> PreparedTranscript:
    """Parse (captions), order (segments) and chunk. Runs in a worker process."""
    chunking = (options.max_tokens, options.overlap, options.encoding)
    # The words as every later step counts them (text_units.py: spaces after the sentences of
    # a script written without them, long runs cut) go to the chunks; the transcript and its
    # segments are stored as they were sent.
    if isinstance(source, str):
        text = spaced(source)
        chunks = _prepared(chunk_text(text, *chunking))
        composed = unicodedata.normalize("NFC", source)
        return PreparedTranscript(
            composed, chunks, None, None, len(text.split()), spoken_language(text)
        )
    if isinstance(source, CaptionFile):
        parsed = parse_captions(source.content, source.format)
    else:
        parsed = sorted((Segment(*values) for values in source), key=lambda s: s.start)
    composed_segments = [
        replace(segment, text=unicodedata.normalize("NFC", segment.text)) for segment in parsed
    ]
    segments = [replace(segment, text=spaced(segment.text)) for segment in parsed]
    counted_text = " ".join(segment.text.strip() for segment in segments)
    segments_json = orjson.dumps(
        [{"text": s.text, "start": s.start, "duration": s.duration} for s in composed_segments]
    )
    last_end = max(segment.start + segment.duration for segment in segments)
    chunks = _prepared(chunk_segments(segments, *chunking))
    return PreparedTranscript(
        " ".join(segment.text.strip() for segment in composed_segments),
        chunks,
        segments_json,
        round(last_end),
        len(counted_text.split()),
        spoken_language(counted_text),
    )


def _prepared(chunks: list[TextChunk]) -> list[PreparedChunk]:
    prepared = []
    for chunk in chunks:
        metadata = chunk_metadata(chunk)
        passages = chunk_passages(chunk.text, metadata)
        prepared.append(
            PreparedChunk(
                chunk.index, chunk.text, chunk.token_count, orjson.dumps(metadata), passages
            )
        )
    return prepared


def text_source(transcript: NewTranscript) -> TextSource:
    if transcript.captions is not None:
        return transcript.captions
    if transcript.segments is not None:
        return [(s.text, s.start, s.duration) for s in transcript.segments]
    return transcript.text or ""


def chunk_metadata(chunk: TextChunk) -> dict[str, Any]:
    if chunk.start is None or chunk.end is None:
        return {}
    return {
        "start_seconds": round(chunk.start, 3),
        "end_seconds": round(chunk.end, 3),
        "moments": [[offset, round(seconds, 2)] for offset, seconds in chunk.moments],
    }


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
