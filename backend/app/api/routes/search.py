from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.api.deps import CurrentUser, SessionDep, SettingsDep
from app.api.errors import error_responses
from app.api.schemas.search import SearchHit, SearchResults
from app.db.repositories import ChunkHit
from app.services.retrieval import deep_link, retrieve, start_seconds

router = APIRouter(prefix="/search", tags=["search"], responses=error_responses(401, 422))


def public_hit(hit: ChunkHit) -> SearchHit:
    return SearchHit(
        transcript_id=hit.transcript_id,
        youtube_video_id=hit.youtube_video_id,
        title=hit.title,
        chunk_id=hit.chunk_id,
        chunk_index=hit.chunk_index,
        start_seconds=start_seconds(hit),
        end_seconds=hit.metadata.get("end_seconds"),
        url=deep_link(hit),
        snippet=hit.snippet,
        rank=hit.rank,
    )


@router.get("", response_model=SearchResults)
async def search(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    q: Annotated[
        str,
        Query(
            min_length=1, max_length=500, description='Web-search syntax: "a phrase", or, -word.'
        ),
    ],
    transcript_ids: Annotated[list[UUID] | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchResults:
    """Full-text search over the caller's transcripts, best first, each hit with a link to
    the moment in the video. Every word must match; when nothing does, any word may."""
    hits = await retrieve(
        session,
        user.id,
        q,
        transcript_ids=transcript_ids,
        limit=min(limit, settings.search_max_results),
    )
    return SearchResults(query=q, hits=[public_hit(hit) for hit in hits])
