from typing import Annotated
from uuid import UUID

from fastapi import File, Form, Response, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import CurrentUser, ModelWorkDep, RuntimeSettingsDep, SessionDep
from app.api.errors import ApiError, ErrorDetail, error_responses, not_found
from app.api.owned import OwnedTranscript, deleted
from app.api.routing import Locate, api_router
from app.api.schemas.common import LongPaging, Page, Paging, page_of
from app.api.schemas.jobs import IngestRequest, JobPublic
from app.api.schemas.transcripts import (
    ChapterPublic,
    ChaptersPublic,
    ChunkPublic,
    TranscriptCreate,
    TranscriptCreated,
    TranscriptDetail,
    TranscriptPublic,
)
from app.core.offload import run_in_thread
from app.core.stored_values import PROBLEMS
from app.db.models import LimitedAction, Transcript
from app.db.repositories import (
    ChapterRepository,
    ChunkRepository,
    JobRepository,
    TranscriptRepository,
)
from app.services import collections
from app.services.captions import CaptionFileError, caption_format, caption_text
from app.services.chapters import storing as chapters
from app.services.chunking import Segment
from app.services.ingest_worker import wake_workers
from app.services.transcript_text import CaptionFile
from app.services.transcripts import NewTranscript, store_transcript
from app.services.usage_limits import admit_and_commit, give_back
from app.services.youtube.links import parse_video_id, watch_url

router = api_router("/transcripts", "transcripts")


@router.post("", status_code=201, responses=error_responses(409, 413, 429))
async def create_transcript(
    body: TranscriptCreate,
    user: CurrentUser,
    session: SessionDep,
    settings: RuntimeSettingsDep,
    locate: Locate,
) -> TranscriptCreated:
    """Store a transcript and its chunks, in one transaction. 409 if the caller already has
    this video; 429 past the caller's ingests per hour."""
    await admit_and_commit(session, user.id, LimitedAction.INGEST, settings)
    segments = None
    if body.segments is not None:
        segments = [Segment(s.text, s.start, s.duration) for s in body.segments]
    new = NewTranscript(
        video_id=body.video,
        text=body.transcript_text,
        segments=segments,
        title=body.title,
        channel_name=body.channel_name,
        duration=body.duration,
        metadata=body.metadata,
    )
    transcript, chunk_count = await store_transcript(session, user.id, new, settings)
    await collections.video_stored(session, user.id, transcript.youtube_video_id, settings)
    locate("get_transcript", transcript_id=transcript.id)
    public = TranscriptPublic.model_validate(transcript)
    return TranscriptCreated(**public.model_dump(), chunk_count=chunk_count)


@router.post(
    "/ingest",
    status_code=202,
    response_model=JobPublic,
    responses={
        **error_responses(409, 429),
        200: {"model": JobPublic, "description": "The existing job for this video."},
    },
)
async def ingest_video(
    body: IngestRequest,
    user: CurrentUser,
    session: SessionDep,
    settings: RuntimeSettingsDep,
    locate: Locate,
) -> JSONResponse:
    """Queue fetching a video's captions; poll `GET /jobs/{id}`.

    202 with a new job; 200 with the existing one when this video is already queued, running
    or done for the caller; 409 when its transcript is already in the caller's library some
    other way (uploaded), as uploading it again would be: nothing is fetched. A failed job can
    be retried by asking again. Every request counts against the caller's ingests per hour (429
    past it), an existing job's too.
    """
    await admit_and_commit(session, user.id, LimitedAction.INGEST, settings)
    jobs = JobRepository(session)
    stored = await TranscriptRepository(session).get_by_video_id(user.id, body.video)
    if stored is not None:
        done = await jobs.active_or_done_ingests(user.id, [body.video])
        if not done:
            raise already_in_the_library(stored.id)
        return JSONResponse(JobPublic.model_validate(done[0]).model_dump(mode="json"))
    job, created = await jobs.enqueue_ingest(
        user_id=user.id,
        video_id=body.video,
        languages=body.languages or settings.ingest_languages,
        max_attempts=settings.job_max_attempts,
    )
    await session.commit()  # visible to the workers before they are woken
    if created:
        wake_workers()
    public = JobPublic.model_validate(job).model_dump(mode="json")
    answer = JSONResponse(public, status_code=202 if created else 200)
    locate("get_job", on=answer, job_id=job.id)
    return answer


def already_in_the_library(transcript_id: UUID) -> ApiError:
    detail = ErrorDetail(field="body.video", message="already in your library", type="unique")
    message = f"This video is already in your library: transcript {transcript_id}."
    return ApiError(409, "conflict", message, details=[detail])


def invalid_upload(field: str, message: str) -> ApiError:
    detail = ErrorDetail(field=f"body.{field}", message=message, type="value_error")
    return ApiError(422, "validation_error", message, details=[detail])


UPLOAD_EXAMPLE = {
    "file": "1\n00:00:00,000 --> 00:00:03,500\nFeed your starter twice a day.\n",
    "video": "https://youtu.be/dQw4w9WgXcQ",
    "title": "Sourdough for beginners",
}


@router.post(
    "/upload",
    status_code=201,
    responses=error_responses(409, 413, 429),
    openapi_extra={
        "requestBody": {"content": {"multipart/form-data": {"example": UPLOAD_EXAMPLE}}}
    },
)
async def upload_captions(
    user: CurrentUser,
    session: SessionDep,
    settings: RuntimeSettingsDep,
    locate: Locate,
    file: Annotated[UploadFile, File(description="An SRT or WebVTT caption file, UTF-8.")],
    video: Annotated[str, Form(max_length=2048, description="The video id or URL.")],
    title: Annotated[str | None, Form(max_length=500)] = None,
    channel_name: Annotated[str | None, Form(max_length=255)] = None,
) -> TranscriptCreated:
    """Store a transcript from a caption file; chunks keep the captions' timings.

    Cues are stored in order of their start; a cue that ends before it starts is refused with
    its number (422 naming `body.file`); cues without text are skipped. The duration is the
    last cue's end. Counts against the caller's ingests per hour (429 past it)."""
    try:
        video_id = parse_video_id(video)
    except ValueError as error:
        raise invalid_upload("video", str(error)) from error
    try:
        # Off the loop: a file that is not UTF-8 is checked character by character.
        content = await run_in_thread(caption_text, await file.read())
    except UnicodeDecodeError as error:
        message = "the caption file is not text (UTF-8, UTF-16 or Windows-1252)"
        raise invalid_upload("file", message) from error
    # Strict UTF-8 decoding leaves no lone surrogate; a NUL byte is found without a scan in
    # Python, which on a 5 MB file would hold the event loop.
    if "\x00" in content:
        raise invalid_upload("file", f"the caption file {PROBLEMS['nul_character']}")
    await admit_and_commit(session, user.id, LimitedAction.INGEST, settings)
    new = NewTranscript(
        video_id=video_id,
        captions=CaptionFile(content, caption_format(content)),
        title=title,
        channel_name=channel_name,
        metadata={"source": "upload", "filename": file.filename},
    )
    try:
        transcript, chunk_count = await store_transcript(session, user.id, new, settings)
    except CaptionFileError:
        # Parsed with the chunking, in the worker process, after the request was counted.
        await session.rollback()
        await give_back(session, user.id, LimitedAction.INGEST)
        raise
    await collections.video_stored(session, user.id, transcript.youtube_video_id, settings)
    locate("get_transcript", transcript_id=transcript.id)
    public = TranscriptPublic.model_validate(transcript)
    return TranscriptCreated(**public.model_dump(), chunk_count=chunk_count)


@router.get("")
async def list_transcripts(
    user: CurrentUser, session: SessionDep, paging: Paging
) -> Page[TranscriptPublic]:
    """The caller's transcripts, newest first (without their text)."""
    page = await TranscriptRepository(session).page_for_user(user.id, paging)
    return page_of(TranscriptPublic, page)


@router.get(
    "/{transcript_id:uuid}", response_model=TranscriptDetail, responses=error_responses(404)
)
async def get_transcript(transcript: OwnedTranscript) -> Transcript:
    return transcript


@router.delete("/{transcript_id:uuid}", status_code=204, responses=error_responses(404))
async def delete_transcript(transcript: OwnedTranscript, session: SessionDep) -> Response:
    """Delete the transcript and its chunks."""
    done = await TranscriptRepository(session).delete(transcript.id)
    return deleted(done, "Transcript", transcript.id)


@router.get("/{transcript_id:uuid}/chunks", responses=error_responses(404))
async def list_chunks(
    transcript: OwnedTranscript, session: SessionDep, paging: LongPaging
) -> Page[ChunkPublic]:
    """The transcript's chunks in order."""
    page = await ChunkRepository(session).page_for_transcript(transcript.id, paging)
    return page_of(ChunkPublic, page)


@router.get("/{transcript_id:uuid}/chapters", responses=error_responses(404))
async def get_chapters(
    transcript: OwnedTranscript, session: SessionDep, work: ModelWorkDep
) -> ChaptersPublic:
    """The video's chapters (title, start, a short summary, a link to the moment) and a summary
    of the whole: its own chapters when its description lists them, else found where its topics
    change, named by the language model when one is configured (its tokens count as yours).
    Found in the background once its vectors are in; a transcript stored before is outlined
    on this first read."""
    if transcript.chapters_source is None:
        embeddings = work.embeddings
        model_name = embeddings.model_name if embeddings is not None else None
        namer = chapters.Namer(work.model, work.settings)

        async def namer_for(_: AsyncSession) -> chapters.Namer:
            return namer

        # The request's read ends here: no connection is held while the language model names.
        await session.commit()
        await chapters.find_name_and_store(work.unit_of_work, transcript.id, model_name, namer_for)
        found_afresh = await TranscriptRepository(session).get_afresh(transcript.id)
        if found_afresh is None:  # deleted while its chapters were being found
            raise not_found("Transcript", transcript.id)
        transcript = found_afresh
    found = await ChapterRepository(session).for_transcript(transcript.id)
    video = transcript.youtube_video_id
    return ChaptersPublic(
        transcript_id=transcript.id,
        youtube_video_id=video,
        source=transcript.chapters_source if found else None,
        summary=transcript.summary,
        chapters=[
            ChapterPublic(
                index=chapter.chapter_index,
                title=chapter.title,
                start_seconds=chapter.start_seconds,
                end_seconds=chapter.end_seconds,
                summary=chapter.summary,
                url=watch_url(video, chapter.start_seconds),
            )
            for chapter in found
        ],
    )
