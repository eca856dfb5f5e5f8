from typing import Annotated
from uuid import UUID

from fastapi import Query

from app.api.deps import CurrentUser, EmbeddingsDep, RuntimeSettingsDep, SessionDep
from app.api.owned import check_collection_ids, check_transcript_ids
from app.api.routing import api_router
from app.api.schemas.common import ShortText, from_row
from app.api.schemas.search import SearchHit, SearchResults
from app.db.models import LimitedAction
from app.db.repositories import JobRepository
from app.services.retrieval import (
    RankedHit,
    Ranking,
    SearchMode,
    embed_question,
    moment_seconds,
    placed,
    retrieve,
)
from app.services.scope import scoped_transcripts
from app.services.usage_limits import admit_and_commit

router = api_router("/search", "search", 404, 429)


def public_hit(ranked: RankedHit, question: str) -> SearchHit:
    """The hit as found (its language, snippet and rank), where and when it is said, and the
    evidence it was ranked by."""
    hit = ranked.hit
    return from_row(
        SearchHit,
        hit,
        **placed(hit, moment_seconds(hit, question)),
        similarity=ranked.similarity,
        score=ranked.score,
        signals=ranked.signals,
    )


@router.get("")
async def search(
    user: CurrentUser,
    session: SessionDep,
    settings: RuntimeSettingsDep,
    embeddings: EmbeddingsDep,
    q: Annotated[
        ShortText,
        Query(
            description='A question or words; web-search syntax ("a phrase", -word) is honoured.',
        ),
    ],
    mode: Annotated[
        SearchMode,
        Query(description="hybrid (words and meaning), lexical (words) or semantic (meaning)."),
    ] = SearchMode.HYBRID,
    transcript_ids: Annotated[
        list[UUID] | None, Query(max_length=50, description="Search these transcripts only.")
    ] = None,
    collection_ids: Annotated[
        list[UUID] | None,
        Query(max_length=50, description="Search the videos of these collections only."),
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=1, le=50, description="Hits wanted; the `search_default_limit` setting if unset."),
    ] = None,
) -> SearchResults:
    """Search the caller's transcripts: the passages that answer, best first, each with a link
    to the moment in the video and the signals that found it. A question no video answers
    (`answerable: false`) gets only the passages holding (nearly) all of its words: a search
    for words still finds them, and nothing merely near in meaning is listed.

    404 when a `transcript_ids` or `collection_ids` is not the caller's, as when asking; 429
    `rate_limited` past the caller's searches per minute (`GET /usage`)."""
    await check_transcript_ids(session, transcript_ids, user)
    await check_collection_ids(session, collection_ids, user)
    await admit_and_commit(session, user.id, LimitedAction.SEARCH, settings)
    query_vector = None if mode is SearchMode.LEXICAL else await embed_question(embeddings, q)
    searched = await scoped_transcripts(session, user.id, transcript_ids, collection_ids)
    retrieval = await retrieve(
        session,
        user.id,
        q,
        query_vector=query_vector,
        mode=mode,
        transcript_ids=searched,
        limit=min(limit or settings.search_default_limit, settings.search_max_results),
        ranking=Ranking.of(settings),
        exact_syntax=True,
    )
    return SearchResults(
        query=q,
        mode=retrieval.mode,
        answerable=retrieval.answerable,
        preparing=not retrieval.answerable
        and await JobRepository(session).preparing(user.id, searched),
        hits=[public_hit(ranked, q) for ranked in retrieval.listed()],
    )
