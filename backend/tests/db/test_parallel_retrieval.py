"""Hybrid retrieval on an engine runs the words' statements on a second connection, beside the
vectors' ones, and finds what the one-connection path finds."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import delete, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.models import User
from app.db.repositories import ChunkRepository, PassageEmbeddingRepository, PassageRepository
from app.services.retrieval import QueryVector, Retrieval, SearchMode, retrieve
from tests.factories import make_transcript, make_user, new_chunk, new_passage

MODEL = "test-parallel-model"
TEXTS = [
    "the sourdough starter needs flour and water every day",
    "a marathon taper lowers the mileage before the race",
    "espresso tastes bitter when the grind is too fine",
]
VECTORS = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]


@pytest.fixture
async def library(engine: AsyncEngine) -> AsyncIterator[uuid.UUID]:
    """A user with three chunks of one passage each and the passages' vectors, committed (a
    second connection sees only committed rows); deleted afterwards."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        user = await make_user(session)
        transcript = await make_transcript(session, user)
        chunks = [new_chunk(transcript, index, text) for index, text in enumerate(TEXTS)]
        chunk_ids = await ChunkRepository(session).create_many(chunks)
        passage_ids = await PassageRepository(session).create_many(
            [
                new_passage(transcript, chunk_id, 0, text)
                for chunk_id, text in zip(chunk_ids, TEXTS, strict=True)
            ]
        )
        await PassageEmbeddingRepository(session).store_many(
            MODEL, list(zip(passage_ids, VECTORS, strict=True))
        )
        await session.commit()
    try:
        yield user.id
    finally:
        async with AsyncSession(engine) as session:
            await session.execute(delete(User).where(User.id == user.id))
            await session.commit()


def hits(retrieval: Retrieval) -> list[tuple[str, float | None, float]]:
    return [(r.hit.chunk_text, r.similarity, round(r.score, 9)) for r in retrieval.hits]


async def test_words_and_vectors_run_on_two_connections(
    engine: AsyncEngine, library: uuid.UUID
) -> None:
    question = "why is my espresso bitter"
    vector = QueryVector(MODEL, [0.1, 0.0, 1.0, 0.0])
    connections: dict[str, set[int]] = {"words": set(), "vectors": set()}

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "ts_headline" in statement or "to_tsvector" in statement:
            connections["words"].add(id(conn.connection.dbapi_connection))
        if "FROM passage_embeddings" in statement:
            connections["vectors"].add(id(conn.connection.dbapi_connection))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with AsyncSession(engine) as session, session.begin():
            together = await retrieve(
                session, library, question, query_vector=vector, mode=SearchMode.HYBRID
            )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    async with engine.connect() as connection:
        one_connection = AsyncSession(bind=connection)
        in_turn = await retrieve(
            one_connection, library, question, query_vector=vector, mode=SearchMode.HYBRID
        )
        await one_connection.close()

    assert len(connections["words"]) == 1
    assert len(connections["vectors"]) == 1
    assert connections["words"] != connections["vectors"]
    assert together.hits[0].hit.chunk_text == TEXTS[2]
    passage = together.hits[0].hit.passage
    assert passage is not None
    assert passage.text == TEXTS[2]  # found by its passage, which the hit carries
    assert hits(together) == hits(in_turn)
    assert {tuple(r.signals) for r in together.hits} >= {("lexical", "semantic")}
