"""Passage vectors: storing one per passage, what still lacks one, and the owner-filtered
nearest-neighbour search with its HNSW index (checked with EXPLAIN)."""

import math
import random
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app.core.config import Settings, get_settings
from app.db.migrations import check, run_alembic
from app.db.models import Transcript, User
from app.db.repositories import PassageEmbeddingRepository
from app.db.repositories.passage_embedding import nearest_statement
from app.db.vector_index import (
    VECTOR_INDEX_PREFIX,
    ensure_vector_index,
    indexed_vector,
    model_filter,
    vector_index_ddl,
    vector_index_name,
)
from app.services.embeddings.base import EmbeddingError
from app.services.ingest_worker import prepare_index_in_background
from app.services.passage_embeddings import Embedder
from tests.factories import make_passages, make_transcript, make_user
from tests.fakes import HashingEmbedder

DIMS = 16
MODEL = "test-model"


def unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector]


def near(target: Sequence[float], spread: float, rng: random.Random) -> list[float]:
    return unit([value + rng.gauss(0, spread) for value in target])


async def passage_ids(session: AsyncSession, transcript: Transcript, count: int) -> list[uuid.UUID]:
    """`count` passages of the transcript, one per chunk."""
    return await make_passages(session, transcript, count)


async def stored_vectors(session: AsyncSession, model: str) -> dict[uuid.UUID, tuple[Any, ...]]:
    rows = await session.execute(
        text(
            "SELECT passage_id, user_id, transcript_id, dims, embedding::real[] "
            "FROM passage_embeddings WHERE model = :model"
        ),
        {"model": model},
    )
    return {row[0]: tuple(row[1:]) for row in rows}


async def test_vectors_are_stored_with_the_passages_owner_and_replaced_on_upsert(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    transcript = await make_transcript(session, user)
    first, second = await passage_ids(session, transcript, 2)
    vectors = PassageEmbeddingRepository(session)

    await vectors.store_many(MODEL, [(first, [1.0, 0.0, 0.0]), (second, [0.0, 1.0, 0.0])])
    await vectors.store_many(MODEL, [(first, [0.0, 0.0, 1.0])])
    await vectors.store_many(MODEL, [(uuid.uuid4(), [1.0, 0.0, 0.0])])  # no such passage: skipped

    stored = await stored_vectors(session, MODEL)
    assert set(stored) == {first, second}
    assert stored[first] == (user.id, transcript.id, 3, [0.0, 0.0, 1.0])
    assert stored[second] == (user.id, transcript.id, 3, [0.0, 1.0, 0.0])


async def test_each_passage_of_a_chunk_has_its_own_vector(session: AsyncSession) -> None:
    user = await make_user(session)
    transcript = await make_transcript(session, user)
    first, second, third = await make_passages(session, transcript, 1, per_chunk=3)
    vectors = PassageEmbeddingRepository(session)

    await vectors.store_many(MODEL, [(first, [1.0, 0.0]), (second, [0.0, 1.0])])

    stored = await stored_vectors(session, MODEL)
    assert {passage: row[3] for passage, row in stored.items()} == {
        first: [1.0, 0.0],
        second: [0.0, 1.0],
    }
    lacking = await vectors.lacking(MODEL, transcript_id=transcript.id)
    assert [(passage.passage_id, passage.text) for passage in lacking] == [(third, "passage 0.2")]
    hits = await vectors.nearest(user.id, [0.0, 1.0], MODEL)
    assert [hit.passage_id for hit in hits] == [second, first]
    assert hits[0].similarity == pytest.approx(1.0)
    assert hits[1].similarity == pytest.approx(0.0, abs=1e-6)


async def test_what_lacks_a_vector_is_listed_per_model_in_id_order_and_counted(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    transcript = await make_transcript(session, user, "lackingVid1")
    other = await make_transcript(session, user, "lackingVid2")
    created = await passage_ids(session, transcript, 5)
    ids = sorted(created)
    other_ids = await passage_ids(session, other, 2)
    vectors = PassageEmbeddingRepository(session)
    await vectors.store_many(MODEL, [(ids[0], [1.0, 0.0]), (ids[3], [0.0, 1.0])])

    lacking = await vectors.lacking(MODEL, transcript_id=transcript.id)
    assert [passage.passage_id for passage in lacking] == [ids[1], ids[2], ids[4]]
    assert lacking[0].text == f"passage {created.index(ids[1])}.0"
    page = await vectors.lacking(MODEL, transcript_id=transcript.id, after=ids[1], limit=1)
    assert [passage.passage_id for passage in page] == [ids[2]]
    assert await vectors.count_lacking(MODEL, transcript_id=transcript.id) == 3
    assert await vectors.count_lacking("another-model", transcript_id=transcript.id) == 5
    everywhere = {passage.passage_id for passage in await vectors.lacking(MODEL, limit=1000)}
    assert {ids[1], ids[2], ids[4], *other_ids} <= everywhere
    assert ids[0] not in everywhere


@pytest.mark.parametrize("indexed", [False, True])
async def test_another_users_passage_is_never_returned_however_close(
    session: AsyncSession, indexed: bool
) -> None:
    model = "owner's model"  # a quote, to be escaped in the literal predicate
    alice, bob = await make_user(session), await make_user(session)
    query = unit([1.0] + [0.0] * (DIMS - 1))
    (alice_passage,) = await passage_ids(session, await make_transcript(session, alice), 1)
    bob_transcript = await make_transcript(session, bob)
    bob_passages = await passage_ids(session, bob_transcript, 2)
    vectors = PassageEmbeddingRepository(session)
    far = [unit([0.5, 1.0] + [0.1] * (DIMS - 2)), unit([0.2, 0.0, 1.0] + [0.1] * (DIMS - 3))]
    await vectors.store_many(model, [(alice_passage, query), *zip(bob_passages, far, strict=True)])
    if indexed:
        await session.execute(text(vector_index_ddl(model, DIMS, concurrently=False)))

    hits = await vectors.nearest(bob.id, query, model, limit=10)

    assert [hit.passage_id for hit in hits] == bob_passages
    assert hits[0].similarity > hits[1].similarity
    assert hits[0].similarity == pytest.approx(
        sum(a * b for a, b in zip(query, far[0], strict=True))
    )
    alice_hits = await vectors.nearest(alice.id, query, model, limit=10)
    assert [hit.passage_id for hit in alice_hits] == [alice_passage]
    assert alice_hits[0].similarity == pytest.approx(1.0)


async def test_the_search_can_be_limited_to_some_transcripts(session: AsyncSession) -> None:
    user = await make_user(session)
    first = await make_transcript(session, user, "filterVid01")
    second = await make_transcript(session, user, "filterVid02")
    (in_first,) = await passage_ids(session, first, 1)
    (in_second,) = await passage_ids(session, second, 1)
    vectors = PassageEmbeddingRepository(session)
    await vectors.store_many(MODEL, [(in_first, [1.0, 0.0]), (in_second, [0.9, 0.1])])

    hits = await vectors.nearest(user.id, [1.0, 0.0], MODEL, transcript_ids=[second.id])

    assert [hit.passage_id for hit in hits] == [in_second]
    assert await vectors.nearest(user.id, [1.0, 0.0], MODEL, transcript_ids=[]) == []


async def test_similarities_are_given_for_the_asked_passages_with_a_vector_of_the_model(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    first, second, third = await passage_ids(session, await make_transcript(session, user), 3)
    vectors = PassageEmbeddingRepository(session)
    await vectors.store_many(MODEL, [(first, [1.0, 0.0]), (second, [0.6, 0.8])])
    await vectors.store_many("another-model", [(third, [1.0, 0.0])])

    similarities = await vectors.similarities([1.0, 0.0], MODEL, [first, second, third])

    assert similarities == pytest.approx({first: 1.0, second: 0.6})
    assert await vectors.similarities([1.0, 0.0], MODEL, []) == {}
    # A query of another length is another model's space: nothing to compare with.
    assert await vectors.similarities([1.0, 0.0, 0.0], MODEL, [first]) == {}


async def crowded_index(session: AsyncSession) -> tuple[User, User, list[float]]:
    """2,000 vectors of one user close to the query, 3 of another far from it, indexed."""
    rng = random.Random(7)
    crowd, few = await make_user(session), await make_user(session)
    query = unit([rng.gauss(0, 1) for _ in range(DIMS)])
    opposite = [-value for value in query]
    crowd_passages = await passage_ids(session, await make_transcript(session, crowd), 2000)
    few_passages = await passage_ids(session, await make_transcript(session, few), 3)
    vectors = PassageEmbeddingRepository(session)
    await vectors.store_many(MODEL, [(p, near(query, 0.3, rng)) for p in crowd_passages])
    await vectors.store_many(MODEL, [(p, near(opposite, 0.3, rng)) for p in few_passages])
    await session.execute(text(vector_index_ddl(MODEL, DIMS, concurrently=False)))
    await session.execute(text("ANALYZE passage_embeddings"))
    return crowd, few, query


async def plan(session: AsyncSession, user: User, query: list[float]) -> str:
    statement = nearest_statement(MODEL, DIMS, by_transcript=False)
    explain = text(f"EXPLAIN {statement.text}").bindparams(*statement._bindparams.values())
    rows = await session.scalars(explain, {"user_id": user.id, "query": query, "limit": 10})
    return "\n".join(rows)


async def test_the_planner_walks_the_vector_index_for_a_user_with_many_vectors(
    session: AsyncSession,
) -> None:
    crowd, few, query = await crowded_index(session)

    crowd_plan = await plan(session, crowd, query)
    few_plan = await plan(session, few, query)

    index = vector_index_name(MODEL, DIMS)
    assert f"Index Scan using {index} on passage_embeddings" in crowd_plan
    assert f"Order By: ((embedding)::vector({DIMS}) <=>" in crowd_plan
    assert "Filter: (user_id = " in crowd_plan
    # A user with few vectors is read exactly through the owner index instead.
    assert "Index Scan using ix_passage_embeddings_user_id_model" in few_plan
    assert index not in few_plan


async def test_a_user_with_three_passages_among_thousands_gets_all_three(
    session: AsyncSession,
) -> None:
    crowd, few, query = await crowded_index(session)
    vectors = PassageEmbeddingRepository(session)
    assert len(await vectors.nearest(few.id, query, MODEL, limit=10)) == 3
    settings = await session.execute(
        text(
            "SELECT current_setting('hnsw.iterative_scan'), current_setting('hnsw.ef_search'), "
            "current_setting('plan_cache_mode')"
        )
    )
    assert settings.one() == ("relaxed_order", "100", "force_custom_plan")

    # Make the planner walk the HNSW graph for this user too (every other path needs a sort):
    # the nearest 100 candidates all belong to the other user, and only the iterative scan
    # goes on until the owner filter has let this user's three through.
    await session.execute(text("SET LOCAL enable_sort = off"))
    assert f"Index Scan using {vector_index_name(MODEL, DIMS)}" in await plan(session, few, query)
    hits = await vectors.nearest(few.id, query, MODEL, limit=10)
    assert len(hits) == 3
    assert len(await vectors.nearest(crowd.id, query, MODEL, limit=10)) == 10

    await session.execute(text("SET LOCAL hnsw.iterative_scan = off"))
    statement = nearest_statement(MODEL, DIMS, by_transcript=False)
    without_iterations = await session.execute(
        statement, {"user_id": few.id, "query": query, "limit": 10}
    )
    assert len(without_iterations.all()) < 3


async def index_validity(engine: AsyncEngine, name: str) -> bool | None:
    async with engine.connect() as connection:
        valid: bool | None = await connection.scalar(
            text(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = :name"
            ),
            {"name": name},
        )
    return valid


@pytest.fixture
async def own_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine of its own, for DDL outside the test's transaction; drops what it built."""
    engine = create_async_engine(database_url)
    try:
        yield engine
    finally:
        async with engine.begin() as connection:
            names = await connection.scalars(
                text("SELECT indexname FROM pg_indexes WHERE indexname LIKE :prefix"),
                {"prefix": VECTOR_INDEX_PREFIX + "%"},
            )
            for name in names.all():
                await connection.execute(text(f"DROP INDEX {name}"))
        await engine.dispose()


async def test_the_index_is_built_concurrently_once(
    own_engine: AsyncEngine, database_url: str
) -> None:
    name = vector_index_name("concurrent-model", 8)

    assert await ensure_vector_index(own_engine, "concurrent-model", 8) is True
    assert await index_validity(own_engine, name) is True
    assert await ensure_vector_index(own_engine, "concurrent-model", 8) is True  # already there
    # Created at run time, so the migrations' check leaves it alone.
    await run_alembic(database_url, check)


async def test_a_build_held_elsewhere_is_left_to_its_builder(own_engine: AsyncEngine) -> None:
    name = vector_index_name("held-model", 8)
    async with own_engine.connect() as builder:
        await builder.execute(text("SELECT pg_advisory_lock(hashtext(:name))"), {"name": name})
        assert await ensure_vector_index(own_engine, "held-model", 8) is False
        await builder.execute(text("SELECT pg_advisory_unlock(hashtext(:name))"), {"name": name})
    assert await index_validity(own_engine, name) is None


async def test_an_index_left_invalid_by_an_interrupted_build_is_rebuilt(
    own_engine: AsyncEngine,
) -> None:
    name = vector_index_name("interrupted-model", 8)
    async with own_engine.begin() as connection:
        if not await connection.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = user")):
            pytest.skip("marking an index invalid needs a superuser")
        await connection.execute(text(vector_index_ddl("interrupted-model", 8, concurrently=False)))
        await connection.execute(
            text("UPDATE pg_index SET indisvalid = false WHERE indexrelid = to_regclass(:name)"),
            {"name": name},
        )
    assert await index_validity(own_engine, name) is False

    assert await ensure_vector_index(own_engine, "interrupted-model", 8) is True

    assert await index_validity(own_engine, name) is True


async def test_the_configured_models_index_is_prepared_in_the_background(
    own_engine: AsyncEngine,
) -> None:
    provider = HashingEmbedder("prepared-model", 24)

    embedder = Embedder(get_settings(), factory=lambda _: provider)

    await prepare_index_in_background(embedder, own_engine)

    assert await index_validity(own_engine, vector_index_name("prepared-model", 24)) is True


async def test_no_index_is_built_through_pgbouncer(
    own_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    provider = HashingEmbedder("pooled-model", 24)
    settings = get_settings().model_copy(update={"db_pgbouncer": True})

    await prepare_index_in_background(Embedder(settings, factory=lambda _: provider), own_engine)

    assert await index_validity(own_engine, vector_index_name("pooled-model", 24)) is None
    assert any("not built through PgBouncer" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("failure", "level"), [(EmbeddingError("HTTP 503"), "WARNING"), (OSError("no model"), "ERROR")]
)
async def test_a_failure_to_prepare_is_reported_not_raised(
    failure: Exception, level: str, caplog: pytest.LogCaptureFixture, own_engine: AsyncEngine
) -> None:
    def failing_factory(_: Settings) -> HashingEmbedder:
        raise failure

    await prepare_index_in_background(Embedder(get_settings(), factory=failing_factory), own_engine)

    (record,) = [r for r in caplog.records if "vector index is not ready" in r.getMessage()]
    assert record.levelname == level


async def test_the_search_refuses_a_session_without_a_transaction(database_url: str) -> None:
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with AsyncSession(engine) as session:
            with pytest.raises(RuntimeError, match="needs a transaction"):
                await PassageEmbeddingRepository(session).nearest(uuid.uuid4(), [1.0], MODEL)
    finally:
        await engine.dispose()


def test_the_index_and_its_predicate_are_literal_and_deterministic() -> None:
    assert model_filter("o'model", 384, "e") == "e.model = 'o''model' AND e.dims = 384"
    assert vector_index_name("m", 384) == vector_index_name("m", 384)
    assert vector_index_name("m", 384) != vector_index_name("n", 384)
    assert len(vector_index_name("a" * 200, 4000)) <= 63
    assert indexed_vector(384) == "(embedding::vector(384))"
    assert indexed_vector(3072) == "(embedding::halfvec(3072))"  # HNSW stops at 2,000 for vector
    assert "halfvec_cosine_ops" in vector_index_ddl("m", 3072)
    assert vector_index_ddl("m", 8).startswith("CREATE INDEX CONCURRENTLY IF NOT EXISTS")
    with pytest.raises(ValueError, match="1 to 4000"):
        indexed_vector(4001)
    with pytest.raises(ValueError, match="NUL"):
        model_filter("bad\x00name", 8)
