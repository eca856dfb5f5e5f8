"""Collections: a playlist, a channel or a list of links, ingested video by video, with their
progress as a document, as server-sent events and as webhook events
(app/services/collections.py)."""

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Annotated
from uuid import UUID

from fastapi import Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import CurrentUser, ReadsDep, RuntimeSettingsDep, SessionDep
from app.api.errors import ApiError, error_responses
from app.api.owned import OwnedCollection, OwnedCollectionId, deleted
from app.api.routing import Locate, api_router
from app.api.schemas.collections import (
    CollectionCreate,
    CollectionDetail,
    CollectionPublic,
    CollectionRename,
    CollectionVideoPublic,
    ProgressPublic,
    RefreshResult,
)
from app.api.schemas.common import Page, Paging, from_row, page_of
from app.api.streaming import error_event
from app.core.config import Settings
from app.db.models import Collection
from app.db.repositories import CollectionRepository, TranscriptRepository
from app.db.session import UnitOfWork
from app.services import collections
from app.services.ingest_worker import wake_workers
from app.services.youtube.listing import (
    CollectionLink,
    CollectionLister,
    ListedVideo,
    Listing,
    parse_collection_link,
)

router = api_router("/collections", "collections")

# How often a progress stream looks again: a finished job shows within this (and a query).
STREAM_POLL_SECONDS = 0.5


def video_lister(request: Request) -> CollectionLister:
    """The app's lister (yt-dlp's; tests give one that answers from replayed pages)."""
    lister: CollectionLister = request.app.state.video_lister
    return lister


def public(collection: Collection, progress: collections.Progress) -> CollectionPublic:
    return from_row(CollectionPublic, collection, progress=progress_public(progress))


def progress_public(progress: collections.Progress) -> ProgressPublic:
    return ProgressPublic(**progress.summary(), eta_seconds=progress.eta_seconds)


def detail(collection: Collection, progress: collections.Progress) -> CollectionDetail:
    videos = [CollectionVideoPublic.model_validate(video) for video in progress.videos]
    return from_row(CollectionDetail, collection, progress=progress_public(progress), videos=videos)


async def list_source(
    lister: CollectionLister, link: CollectionLink, settings: Settings
) -> Listing:
    """The source's videos, listed off the event loop (yt-dlp blocks); FetchError when YouTube
    will not list them (app/api/errors.py answers it)."""
    return await asyncio.to_thread(lister.list_videos, link, settings.collection_max_videos)


async def add_and_queue(
    session: AsyncSession, collection: Collection, planned: collections.Plan, settings: Settings
) -> int:
    queued = await collections.add_videos(session, collection, planned, settings)
    await session.flush()
    await collections.report(session, collection, settings, throttle=False)
    return queued


@router.post("", status_code=201, responses=error_responses(409, 429, 502))
async def create_collection(
    body: CollectionCreate,
    request: Request,
    locate: Locate,
    user: CurrentUser,
    session: SessionDep,
    settings: RuntimeSettingsDep,
) -> CollectionDetail:
    """Add a playlist's or a channel's videos (its newest `COLLECTION_MAX_VIDEOS`), or a list of
    links, as a named collection: one ingest job per video you do not have yet; videos you have
    count as done at once. Each queued video counts against your ingests per hour (429 when
    they do not all fit). Follow it with `GET /collections/{id}` or its event stream."""
    if body.videos is not None:
        kind, source_url, source_id = "videos", None, None
        videos = [ListedVideo(video_id, None, None) for video_id in body.videos]
        name, error, truncated = body.name or "Videos", None, False
    else:
        link = parse_collection_link(body.url or "")
        existing = await CollectionRepository(session).of_source(user.id, link.kind, link.source_id)
        if existing is not None:  # before anything is listed or counted
            raise ApiError(
                409,
                "conflict",
                f"You have this {link.kind} already: collection {existing.id}. "
                f"Refresh it with POST /collections/{existing.id}/refresh.",
            )
        await session.commit()  # no transaction held open while YouTube lists the videos
        listing = await list_source(video_lister(request), link, settings)
        kind, source_url, source_id = link.kind, link.url, link.source_id
        videos = listing.videos
        name = body.name or listing.title or link.source_id
        error = listing.error.message if listing.error else None
        truncated = listing.truncated
    planned = await collections.plan(session, user.id, videos, set())
    await collections.admit_videos(session, user.id, planned, settings)
    collection = await CollectionRepository(session).create(
        user_id=user.id, name=name[:200], kind=kind, source_url=source_url, source_id=source_id
    )
    await CollectionRepository(session).record_listing(
        collection.id, error=error, truncated=truncated
    )
    await add_and_queue(session, collection, planned, settings)
    await session.commit()  # visible to the workers before they are woken
    wake_workers()
    await session.refresh(collection)
    locate("get_collection", collection_id=collection.id)
    return detail(collection, await collections.progress(session, collection.id, settings))


@router.get("")
async def list_collections(
    user: CurrentUser,
    session: SessionDep,
    settings: RuntimeSettingsDep,
    paging: Paging,
) -> Page[CollectionPublic]:
    """Your collections, newest first, each with its progress."""
    page = await CollectionRepository(session).page_for_user(user.id, paging)
    progress = await collections.progress_of_each(session, [c.id for c in page.rows], settings)
    items = [public(collection, progress[collection.id]) for collection in page.rows]
    return page_of(CollectionPublic, page.with_rows(items))


@router.get("/{collection_id:uuid}", responses=error_responses(404))
async def get_collection(
    collection: OwnedCollection, session: SessionDep, settings: RuntimeSettingsDep
) -> CollectionDetail:
    """The collection, its progress (done, failed with reasons, pending, time left) and its
    videos in order."""
    return detail(collection, await collections.progress(session, collection.id, settings))


async def progress_events(
    collection_id: UUID, reads: UnitOfWork, settings: Settings
) -> AsyncGenerator[bytes, None]:
    """`progress` at once and whenever it changes, then `ready` when nothing is pending, or
    `error` (not_found) if the collection is deleted meanwhile. Each poll is a read on the
    read-only engine: no transaction, no pre-ping."""
    last = None
    while True:
        async with reads() as session:
            current = await collections.progress(session, collection_id, settings)
            # A deleted collection has no videos left, so reads as ready: asked after the
            # progress, the check cannot miss a deletion in between.
            gone = current.ready and (
                await CollectionRepository(session).get_by_id(collection_id) is None
            )
        if gone:
            yield error_event("not_found", f"Collection {collection_id} was deleted")
            return
        summary = progress_public(current).model_dump(mode="json")
        if summary != last:
            yield f"event: progress\ndata: {json.dumps(summary)}\n\n".encode()
            last = summary
        if current.ready:
            yield f"event: ready\ndata: {json.dumps(summary)}\n\n".encode()
            return
        await asyncio.sleep(STREAM_POLL_SECONDS)


@router.get(
    "/{collection_id:uuid}/events",
    response_class=StreamingResponse,
    responses={
        **error_responses(404),
        200: {
            "description": "Server-sent events: `progress` (the progress document, at once and "
            "whenever it changes) and, last, `ready`; or `error` (the error shape, `not_found`) "
            "when the collection is deleted meanwhile.",
            "content": {
                "text/event-stream": {
                    "schema": {
                        "description": "Each event's `data`: the progress document for "
                        "`progress` and `ready`, the error shape for `error`.",
                        "oneOf": [
                            {"$ref": "#/components/schemas/ProgressPublic"},
                            {"$ref": "#/components/schemas/ErrorResponse"},
                        ],
                    }
                }
            },
        },
    },
)
async def stream_progress(
    collection_id: OwnedCollectionId, settings: RuntimeSettingsDep, reads: ReadsDep
) -> StreamingResponse:
    """The collection's progress as server-sent events, within a second of each video."""
    return StreamingResponse(
        progress_events(collection_id, reads, settings),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/{collection_id:uuid}/refresh", responses=error_responses(404, 409, 429, 502))
async def refresh_collection(
    collection: OwnedCollection,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: RuntimeSettingsDep,
) -> RefreshResult:
    """List the playlist or channel again and add only the videos the collection does not hold
    yet (each counts against your ingests per hour)."""
    if collection.kind == "videos" or collection.source_url is None:
        raise ApiError(409, "conflict", "A collection of links has nothing to list again.")
    link = parse_collection_link(collection.source_url)
    await session.commit()  # no transaction held open while YouTube lists the videos
    listing = await list_source(video_lister(request), link, settings)
    known = await CollectionRepository(session).video_ids(collection.id)
    planned = await collections.plan(session, user.id, listing.videos, known)
    await collections.admit_videos(session, user.id, planned, settings)
    error = listing.error.message if listing.error else None
    await CollectionRepository(session).record_listing(
        collection.id, error=error, truncated=listing.truncated
    )
    queued = await add_and_queue(session, collection, planned, settings) if planned.new else 0
    await session.commit()
    wake_workers()
    await session.refresh(collection)
    current = await collections.progress(session, collection.id, settings)
    return RefreshResult(
        added=len(planned.new), queued=queued, collection=detail(collection, current)
    )


@router.patch("/{collection_id:uuid}", responses=error_responses(404))
async def rename_collection(
    collection: OwnedCollection,
    body: CollectionRename,
    session: SessionDep,
    settings: RuntimeSettingsDep,
) -> CollectionDetail:
    collection = await CollectionRepository(session).update(collection.id, name=body.name)
    return detail(collection, await collections.progress(session, collection.id, settings))


@router.delete("/{collection_id:uuid}", status_code=204, responses=error_responses(404))
async def delete_collection(
    collection: OwnedCollection,
    user: CurrentUser,
    session: SessionDep,
    delete_videos: Annotated[
        bool,
        Query(
            description="Also delete the transcripts of its videos (yours, however stored), "
            "but those another of your collections holds."
        ),
    ] = False,
) -> Response:
    """Delete the collection. Its videos' transcripts stay unless `delete_videos=true`; even
    then, a video another of your collections holds keeps its transcript."""
    collections = CollectionRepository(session)
    if delete_videos:
        # Two collections sharing videos, deleted at once: each would see the other still
        # holding them, and both would keep them. The second waits, then sees the first gone.
        await collections.take_turns_deleting(user.id)
        transcript_ids = await collections.transcript_ids_held_by_no_other(user.id, collection.id)
        await TranscriptRepository(session).delete_for_user(user.id, transcript_ids)
    return deleted(await collections.delete(collection.id), "Collection", collection.id)
