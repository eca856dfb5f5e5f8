"""The candidates each signal proposes for a question, with the other signal's evidence for
each: the question's words (full-text search over the user's passages, with their coverage and
rank) and its meaning (the question's vector, the passages nearest to it, and their cosine
similarity). With both, the words' statements run on a second connection beside the vectors'.
While a new model's vectors are being embedded, an earlier offline model's stand in."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.repositories import (
    ChunkHit,
    NearPassage,
    PassageEmbeddingRepository,
    PassageRepository,
)
from app.db.repositories.passage import QueryWords
from app.services.embeddings.background import Background, background_of
from app.services.embeddings.base import EmbeddingError, EmbeddingProvider
from app.services.embeddings.factory import OFFLINE_MODELS, offline_provider

logger = logging.getLogger(__name__)

A = TypeVar("A")
B = TypeVar("B")

# Passages each signal proposes: a chunk holds six to ten of them.
CANDIDATES_PER_SIGNAL = 60


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    LEXICAL = "lexical"
    SEMANTIC = "semantic"


@dataclass(frozen=True, slots=True)
class QueryVector:
    model_name: str
    vector: list[float]
    # The model's everyday level and the question's closeness to each language's everyday
    # paragraphs (background.py), when the model could say.
    background: Background | None = None
    # Offline models whose vectors a library may still hold from before a change of model:
    # searched when it has none of this model's yet (the new ones are being embedded).
    earlier_models: tuple[EmbeddingProvider, ...] = ()


async def embed_question(provider: EmbeddingProvider | None, question: str) -> QueryVector | None:
    """The question's vector; None without a provider, or when it fails (an unreachable
    embedding server): the search then goes on by words alone."""
    if provider is None:
        return None
    try:
        vector = await provider.embed_query(question)
        background = await background_of(provider, vector)
        earlier = tuple(
            model
            for model in map(offline_provider, OFFLINE_MODELS)
            if model.model_name != provider.model_name
        )
        return QueryVector(provider.model_name, vector, background, earlier)
    except EmbeddingError as error:
        logger.warning("embedding the question failed (%s); searching by words only", error)
        return None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A chunk one signal found, with the question's similarity to it when known."""

    hit: ChunkHit
    similarity: float | None


async def find_candidates(
    session: AsyncSession,
    user_id: UUID,
    question: str,
    query_vector: QueryVector | None,
    mode: SearchMode,
    transcript_ids: Sequence[UUID] | None,
    *,
    strict: bool,
) -> tuple[list[Candidate], QueryWords | None, QueryVector | None]:
    """The candidates of the signals `mode` searches by (the words alone when there is no
    vector or the question is `strict`), the question's words, and the vector used."""
    if query_vector is None or mode is SearchMode.LEXICAL or strict:
        if mode is SearchMode.SEMANTIC:
            return [], None, query_vector
        passages = PassageRepository(session)
        words = await passages.query_words(user_id, question)
        lexical = await passages.search(
            user_id,
            question,
            transcript_ids=transcript_ids,
            limit=CANDIDATES_PER_SIGNAL,
            match="all" if strict else "any",
            words=words,
        )
        return [Candidate(hit, None) for hit in lexical], words, query_vector
    async with _second_session(session) as words_session:
        return await _both_signals(
            _Signals(session, words_session, user_id, question, query_vector, transcript_ids),
            lexical_search=mode is not SearchMode.SEMANTIC,
        )


@dataclass(frozen=True, slots=True)
class _Signals:
    """Where and what to search by both signals: vectors on `session`, words on
    `words_session` (a second connection when there is one, so both run at once)."""

    session: AsyncSession
    words_session: AsyncSession
    user_id: UUID
    question: str
    query_vector: QueryVector
    transcript_ids: Sequence[UUID] | None


@asynccontextmanager
async def _second_session(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A session on a second connection of the same engine, for the full-text statements to
    run while the vector ones do: they are independent, and each keeps a core busy. A session
    bound to one connection (a caller's transaction) is used as it is, in turn. The second
    session reads committed chunks only: retrieval never reads the caller's own writes."""
    if not isinstance(session.bind, AsyncEngine):
        yield session
        return
    async with AsyncSession(session.bind) as words_session:
        yield words_session


async def _gather(first: Awaitable[A], second: Awaitable[B], together: bool) -> tuple[A, B]:
    if together:
        return await asyncio.gather(first, second)
    return await first, await second


async def _both_signals(
    signals: _Signals, *, lexical_search: bool
) -> tuple[list[Candidate], QueryWords, QueryVector]:
    """Each signal's candidates, then each candidate's other signal, in two rounds: the
    words' side (the query's words and their frequencies, then full-text search) beside the
    vectors' (nearest), then the lexical hits' vectors beside the vector hits' words."""
    words = PassageRepository(signals.words_session)
    vectors = PassageEmbeddingRepository(signals.session)
    together = signals.words_session is not signals.session

    async def by_words() -> tuple[QueryWords, list[ChunkHit]]:
        query_words = await words.query_words(signals.user_id, signals.question)
        if not lexical_search:
            return query_words, []
        hits = await words.search(
            signals.user_id,
            signals.question,
            transcript_ids=signals.transcript_ids,
            limit=CANDIDATES_PER_SIGNAL,
            match="any",
            words=query_words,
        )
        return query_words, hits

    (query_words, lexical), (vector, nearest) = await _gather(
        by_words(), _nearest(vectors, signals), together
    )
    similarity = {near.passage_id: near.similarity for near in nearest}
    found = {passage_id(hit) for hit in lexical}
    more_similarities, evidence = await _gather(
        vectors.similarities(
            vector.vector,
            vector.model_name,
            [passage_id(hit) for hit in lexical if passage_id(hit) not in similarity],
        ),
        words.lexical_evidence(
            signals.user_id,
            signals.question,
            [near.passage_id for near in nearest if near.passage_id not in found],
            query_words,
        ),
        together,
    )
    similarity |= more_similarities
    candidates = [Candidate(hit, similarity.get(passage_id(hit))) for hit in [*lexical, *evidence]]
    return candidates, query_words, vector


async def _nearest(
    vectors: PassageEmbeddingRepository, signals: _Signals
) -> tuple[QueryVector, list[NearPassage]]:
    """The passages nearest to the question, and the question's vector they were found with:
    the configured model's, or, while the library holds none of its vectors yet (a new model's
    are being embedded), the first earlier model's that it does hold."""
    vector = signals.query_vector
    nearest = await _nearest_by(vectors, signals, vector)
    if nearest:
        return vector, nearest
    for provider in vector.earlier_models:
        if not await vectors.has_vectors(signals.user_id, provider.model_name):
            continue
        earlier = await embed_question(provider, signals.question)
        if earlier is not None and (found := await _nearest_by(vectors, signals, earlier)):
            return earlier, found
    return vector, nearest


async def _nearest_by(
    vectors: PassageEmbeddingRepository, signals: _Signals, vector: QueryVector
) -> list[NearPassage]:
    return await vectors.nearest(
        signals.user_id,
        vector.vector,
        vector.model_name,
        transcript_ids=signals.transcript_ids,
        limit=CANDIDATES_PER_SIGNAL,
    )


def passage_id(hit: ChunkHit) -> UUID:
    if hit.passage is None:
        raise ValueError(f"chunk {hit.chunk_id} was found without its passage")
    return hit.passage.passage_id
