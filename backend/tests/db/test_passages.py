"""Passages in the database: stored with the chunks of every new transcript, cut afterwards for
chunks stored before passages existed (the backfill), and then given their vectors."""

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings, get_settings
from app.db.models import Chunk, Passage, PassageEmbedding, Transcript, User
from app.db.repositories import ChunkRepository, PassageEmbeddingRepository
from app.db.session import UnitOfWork, committed
from app.services.chunking import Segment
from app.services.passage_embeddings import Embedder
from app.services.retrieval import SearchMode, embed_question, retrieve
from app.services.transcripts import NewTranscript, cut_missing_passages, store_transcript
from tests.factories import make_user
from tests.fakes import HashingEmbedder
from tests.offline_model import offline_model

CAPTIONS = [
    Segment(
        f"In caption {n} the speaker talks about topic {n % 9} for a little while.", n * 3.0, 3.0
    )
    for n in range(120)
]
TALK = " ".join(
    f"Sentence {n} explains how vacuum keeps PostgreSQL tables small and fast." for n in range(80)
)
DIFFERENT_TALK = " ".join(
    f"Step {n}: knead the bread dough, let it rise, then bake it until golden." for n in range(80)
)


def settings() -> Settings:
    return get_settings().model_copy(update={"chunk_tokens": 300, "chunk_overlap": 0.2})


async def store(session: AsyncSession, user: User, video: str, **source: Any) -> Transcript:
    transcript, chunks = await store_transcript(
        session, user.id, NewTranscript(video_id=video, **source), settings()
    )
    assert chunks > 2
    return transcript


async def passages_by_chunk(
    session: AsyncSession, transcript: Transcript
) -> dict[uuid.UUID, list[Passage]]:
    """The transcript's passages, grouped by chunk, each chunk's in order."""
    rows = await session.scalars(
        select(Passage)
        .where(Passage.transcript_id == transcript.id)
        .order_by(Passage.chunk_id, Passage.passage_index)
    )
    grouped: dict[uuid.UUID, list[Passage]] = defaultdict(list)
    for passage in rows:
        grouped[passage.chunk_id].append(passage)
    return dict(grouped)


def as_tuples(grouped: dict[uuid.UUID, list[Passage]]) -> dict[uuid.UUID, list[tuple[Any, ...]]]:
    return {
        chunk: [
            (p.passage_index, p.passage_text, p.word_offset, p.start_seconds, p.end_seconds)
            for p in passages
        ]
        for chunk, passages in grouped.items()
    }


async def chunks_of(session: AsyncSession, transcript: Transcript) -> list[Chunk]:
    return (await ChunkRepository(session).page_for_transcript(transcript.id)).rows


async def test_a_timed_transcript_is_stored_with_passages_inside_its_chunks(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    transcript = await store(session, user, "passageVid1", segments=CAPTIONS)

    chunks = await chunks_of(session, transcript)
    grouped = await passages_by_chunk(session, transcript)

    assert set(grouped) == {chunk.id for chunk in chunks}
    assert any(len(passages) > 1 for passages in grouped.values())
    for chunk in chunks:
        passages = grouped[chunk.id]
        start, end = chunk.meta["start_seconds"], chunk.meta["end_seconds"]
        assert [p.passage_index for p in passages] == list(range(len(passages)))
        assert " ".join(p.passage_text for p in passages) == chunk.chunk_text
        words = chunk.chunk_text.split()
        for passage in passages:
            assert (passage.user_id, passage.transcript_id) == (user.id, transcript.id)
            first = passage.word_offset
            assert words[first : first + len(passage.passage_text.split())] == (
                passage.passage_text.split()
            )
            assert passage.start_seconds is not None
            assert passage.end_seconds is not None
            assert start <= passage.start_seconds <= passage.end_seconds <= end
        assert passages[0].start_seconds == start
        assert passages[-1].end_seconds == end


async def test_an_untimed_transcript_is_stored_with_passages_without_seconds(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    transcript = await store(session, user, "passageVid2", text=TALK)

    chunks = await chunks_of(session, transcript)
    grouped = await passages_by_chunk(session, transcript)

    assert set(grouped) == {chunk.id for chunk in chunks}
    for chunk in chunks:
        passages = grouped[chunk.id]
        assert " ".join(p.passage_text for p in passages) == chunk.chunk_text
        assert all(p.start_seconds is None and p.end_seconds is None for p in passages)


async def test_deleting_a_chunk_deletes_its_passages_and_their_vectors(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    transcript = await store(session, user, "passageVid3", segments=CAPTIONS)
    unit_of_work = savepoint_unit_of_work(session)
    await Embedder(settings(), factory=lambda _: HashingEmbedder()).embed_missing(
        unit_of_work, transcript_id=transcript.id
    )
    first = (await chunks_of(session, transcript))[0]
    passage_ids = [p.id for p in (await passages_by_chunk(session, transcript))[first.id]]

    await session.execute(text("DELETE FROM chunks WHERE id = :id"), {"id": first.id})

    assert await count(session, Passage, Passage.chunk_id == first.id) == 0
    assert await count(session, PassageEmbedding, PassageEmbedding.passage_id.in_(passage_ids)) == 0
    assert await count(session, PassageEmbedding, PassageEmbedding.transcript_id == transcript.id)


async def count(session: AsyncSession, model: type[Any], *where: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def savepoint_unit_of_work(session: AsyncSession) -> UnitOfWork:
    """get_db()'s contract on the test's session: commit (a savepoint) on success."""
    return lambda: committed(session)


async def test_chunks_without_passages_are_cut_again_and_then_embedded(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    timed = await store(session, user, "backfillVid1", segments=CAPTIONS)
    untimed = await store(session, user, "backfillVid2", text=TALK)
    stored = {t.id: as_tuples(await passages_by_chunk(session, t)) for t in (timed, untimed)}
    # As a transcript stored before passages existed: its chunks without passages.
    await session.execute(
        text("DELETE FROM passages WHERE transcript_id = ANY(:ids)"),
        {"ids": [timed.id, untimed.id]},
    )
    assert await passages_by_chunk(session, timed) == {}

    cut = await cut_missing_passages(session, transcript_id=timed.id, batch=2)

    assert cut == len(await chunks_of(session, timed))
    assert as_tuples(await passages_by_chunk(session, timed)) == stored[timed.id]
    assert await passages_by_chunk(session, untimed) == {}  # another transcript: not yet
    assert await cut_missing_passages(session, transcript_id=timed.id) == 0  # nothing left

    provider = HashingEmbedder("backfill-model", 16)
    embedder = Embedder(settings(), factory=lambda _: provider)
    embedded = await embedder.embed_missing(savepoint_unit_of_work(session))

    # The embedder cuts what is still uncut (every transcript's) before embedding.
    assert as_tuples(await passages_by_chunk(session, untimed)) == stored[untimed.id]
    for transcript in (timed, untimed):
        passages = [p for ps in (await passages_by_chunk(session, transcript)).values() for p in ps]
        vectors = await session.execute(
            select(PassageEmbedding.passage_id, PassageEmbedding.dims).where(
                PassageEmbedding.transcript_id == transcript.id,
                PassageEmbedding.model == "backfill-model",
            )
        )
        assert {row[0]: row[1] for row in vectors} == {p.id: 16 for p in passages}
    embedded_texts = [text for call in provider.passage_calls for text in call]
    expected = [p[1] for t in stored.values() for ps in t.values() for p in ps]
    assert sorted(embedded_texts) == sorted(expected)
    assert embedded >= len(expected)  # and any other test's committed passages
    assert await embedder.count_missing(savepoint_unit_of_work(session)) == 0


@pytest.mark.slow
async def test_search_uses_an_earlier_models_vectors_until_the_new_ones_are_in(
    session: AsyncSession,
) -> None:
    """After a change of offline model, a library embedded by the earlier one is still searched
    by meaning: with the earlier model's vectors, until the new model's are in."""
    user = await make_user(session)
    stored = [
        await store(session, user, "earlierMod1", text=TALK),
        await store(session, user, "earlierMod2", text=DIFFERENT_TALK),
    ]
    earlier, current = offline_model("all-minilm-l6-v2"), offline_model("multilingual-e5-small")

    @asynccontextmanager
    async def unit_of_work() -> AsyncIterator[AsyncSession]:
        yield session

    async def embed_the_talks(embedder: Embedder) -> None:
        # These talks only: other tests' committed passages are not this test's to embed.
        for transcript in stored:
            await embedder.embed_missing(unit_of_work, transcript_id=transcript.id)

    await embed_the_talks(Embedder(settings(), factory=lambda _: earlier))
    question = "how do I stop my tables from bloating"

    found = await retrieve(
        session, user.id, question, query_vector=await embed_question(current, question)
    )
    assert found.mode is SearchMode.HYBRID  # by meaning, though no passage has a vector of e5
    assert found.hits[0].similarity is not None
    assert found.hits[0].hit.youtube_video_id == "earlierMod1"

    await embed_the_talks(Embedder(settings(), factory=lambda _: current))
    vector = await embed_question(current, question)
    assert vector is not None
    found = await retrieve(session, user.id, question, query_vector=vector)
    best = found.hits[0].hit.passage
    assert best is not None
    similarities = await PassageEmbeddingRepository(session).similarities(
        vector.vector, current.model_name, [best.passage_id]
    )
    assert found.hits[0].similarity == pytest.approx(next(iter(similarities.values())))


async def test_without_vectors_of_any_model_search_goes_by_words(session: AsyncSession) -> None:
    user = await make_user(session)
    await store(session, user, "noVectors01", text=TALK)
    current = offline_model("multilingual-e5-small")
    question = "vacuum keeps tables small"
    found = await retrieve(
        session, user.id, question, query_vector=await embed_question(current, question)
    )
    assert found.mode is SearchMode.LEXICAL
    assert found.hits
    assert found.hits[0].similarity is None
