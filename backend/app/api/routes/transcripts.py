from uuid import UUID

from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import CurrentUser, SessionDep, SettingsDep
from app.api.errors import error_responses, not_found
from app.api.schemas.common import Limit, Offset, Page
from app.api.schemas.transcripts import (
    ChunkPublic,
    TranscriptCreate,
    TranscriptCreated,
    TranscriptDetail,
    TranscriptPublic,
)
from app.core.config import Settings
from app.db.models import Transcript, User
from app.db.repositories import ChunkRepository, NewChunk, TranscriptRepository
from app.services.chunking import Segment, TextChunk, chunk_segments, chunk_text

router = APIRouter(prefix="/transcripts", tags=["transcripts"], responses=error_responses(401, 422))


async def owned_transcript(session: AsyncSession, transcript_id: UUID, user: User) -> Transcript:
    transcript = await TranscriptRepository(session).get_for_user(transcript_id, user.id)
    if transcript is None:
        raise not_found("Transcript", transcript_id)
    return transcript


def split_into_chunks(body: TranscriptCreate, settings: Settings) -> list[TextChunk]:
    options = (settings.chunk_tokens, settings.chunk_overlap, settings.tokenizer_encoding)
    if body.segments is not None:
        segments = [Segment(s.text, s.start, s.duration) for s in body.segments]
        return chunk_segments(segments, *options)
    return chunk_text(body.full_text(), *options)


def chunk_metadata(chunk: TextChunk) -> dict[str, float]:
    if chunk.start is None or chunk.end is None:
        return {}
    return {"start_seconds": round(chunk.start, 3), "end_seconds": round(chunk.end, 3)}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TranscriptCreated,
    responses=error_responses(409, 413),
)
async def create_transcript(
    body: TranscriptCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> TranscriptCreated:
    """Store a transcript and its chunks, in one transaction. 409 if the caller already has
    this video."""
    # Tokenising a long transcript takes tens of milliseconds: keep it off the event loop.
    pieces = await run_in_threadpool(split_into_chunks, body, settings)
    metadata = dict(body.metadata)
    if body.segments is not None:
        metadata["segments"] = [segment.model_dump() for segment in body.segments]
    transcript = await TranscriptRepository(session).create(
        user_id=user.id,
        youtube_video_id=body.video,
        transcript_text=body.full_text(),
        title=body.title,
        channel_name=body.channel_name,
        duration=body.duration,
        metadata=metadata,
    )
    await ChunkRepository(session).create_many(
        [
            NewChunk(
                transcript_id=transcript.id,
                user_id=user.id,
                chunk_index=piece.index,
                chunk_text=piece.text,
                token_count=piece.token_count,
                metadata=chunk_metadata(piece),
            )
            for piece in pieces
        ]
    )
    public = TranscriptPublic.model_validate(transcript)
    return TranscriptCreated(**public.model_dump(), chunk_count=len(pieces))


@router.get("", response_model=Page[TranscriptPublic])
async def list_transcripts(
    user: CurrentUser, session: SessionDep, limit: Limit = 20, offset: Offset = 0
) -> Page[TranscriptPublic]:
    """The caller's transcripts, newest first (without their text)."""
    transcripts = TranscriptRepository(session)
    items = await transcripts.list_by_user(user.id, limit, offset)
    return Page(
        items=[TranscriptPublic.model_validate(t) for t in items],
        total=await transcripts.count_by_user(user.id),
        limit=limit,
        offset=offset,
    )


@router.get("/{transcript_id}", response_model=TranscriptDetail, responses=error_responses(404))
async def get_transcript(transcript_id: UUID, user: CurrentUser, session: SessionDep) -> Transcript:
    return await owned_transcript(session, transcript_id, user)


@router.delete(
    "/{transcript_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
async def delete_transcript(
    transcript_id: UUID, user: CurrentUser, session: SessionDep
) -> Response:
    """Delete the transcript and its chunks."""
    transcript = await owned_transcript(session, transcript_id, user)
    await TranscriptRepository(session).delete(transcript.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{transcript_id}/chunks", response_model=Page[ChunkPublic], responses=error_responses(404)
)
async def list_chunks(
    transcript_id: UUID,
    user: CurrentUser,
    session: SessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ChunkPublic]:
    """The transcript's chunks in order."""
    transcript = await owned_transcript(session, transcript_id, user)
    chunks = ChunkRepository(session)
    items = await chunks.list_by_transcript(transcript.id, limit, offset)
    return Page(
        items=[ChunkPublic.model_validate(c) for c in items],
        total=await chunks.count_by_transcript(transcript.id),
        limit=limit,
        offset=offset,
    )
