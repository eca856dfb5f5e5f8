"""The migrations are the schema: they build it, remove it, build it again, and match the models."""

import importlib.util
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from alembic import command
from app.core.config import BACKEND_DIR
from app.db.migrations import AlembicCommand, check, downgrade, run_alembic, upgrade
from testkit.database import create_database, drop_database

APP_TABLES = {
    "users",
    "sessions",
    "conversations",
    "messages",
    "transcripts",
    "chunks",
    "templates",
    "config",
    "api_keys",
    "jobs",
    "usage_events",
    "login_failures",
    "passages",
    "passage_embeddings",
    "usage_counters",
    "user_limits",
    "webhook_endpoints",
    "webhook_deliveries",
    "token_reservations",
    "invitations",
    "collections",
    "collection_videos",
    "chapters",
}
APP_FUNCTIONS = {"set_updated_at", "update_conversation_timestamp"}


async def schema_objects(url: str) -> tuple[set[str], set[str], set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            functions = await connection.scalars(
                text(
                    "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE n.nspname = 'public'"
                )
            )
            triggers = await connection.scalars(
                text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            )
            return set(tables), set(functions), set(triggers)
    finally:
        await engine.dispose()


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    url = await create_database(server_url, prefix="ytt_migrations")
    try:
        yield url
    finally:
        await drop_database(url)


async def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    await run_alembic(empty_database, upgrade)
    tables, functions, triggers = await schema_objects(empty_database)
    assert tables >= APP_TABLES
    assert functions >= APP_FUNCTIONS
    assert "trg_messages_update_conversation_timestamp" in triggers
    updated_at_tables = (
        "users",
        "conversations",
        "templates",
        "config",
        "jobs",
        "user_limits",
        "webhook_endpoints",
    )
    assert {f"trg_{t}_set_updated_at" for t in updated_at_tables} <= triggers

    await run_alembic(empty_database, downgrade)
    tables, functions, triggers = await schema_objects(empty_database)
    assert tables == {"alembic_version"}
    assert functions == set()
    assert triggers == set()

    await run_alembic(empty_database, upgrade)
    tables, _, _ = await schema_objects(empty_database)
    assert tables >= APP_TABLES


async def test_models_and_migrations_agree(database_url: str) -> None:
    """`alembic check` raises when autogenerate would produce any operation."""
    await run_alembic(database_url, check)


def migration(file_name: str) -> ModuleType:
    path = BACKEND_DIR / "alembic" / "versions" / file_name
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_a_server_without_pgvector_is_told_how_to_get_it(engine: AsyncEngine) -> None:
    embeddings = migration("0006_chunk_embeddings.py")
    async with engine.connect() as connection:
        await connection.run_sync(embeddings.require_extension, "vector", "unused")
        with pytest.raises(RuntimeError, match="pgvector/pgvector") as refused:
            await connection.run_sync(
                embeddings.require_extension, "no_such_extension", embeddings.MISSING_PGVECTOR
            )
    assert "postgresql-<major version>-pgvector" in str(refused.value)


def upgrade_to(revision: str) -> AlembicCommand:
    def run(config: Config) -> None:
        command.upgrade(config, revision)

    return run


def downgrade_to(revision: str) -> AlembicCommand:
    def run(config: Config) -> None:
        command.downgrade(config, revision)

    return run


async def query(url: str, statement: str, **parameters: Any) -> list[tuple[Any, ...]]:
    """The rows of one statement, in a committed transaction of its own."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), parameters)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


async def insert_transcripts(url: str, user: Any, texts: dict[str, str]) -> None:
    """A transcript of the user's per video id, with its text, as rows written before."""
    for video, words in texts.items():
        await query(
            url,
            "INSERT INTO transcripts (user_id, youtube_video_id, transcript_text) "
            "VALUES (:user, :video, :words)",
            user=user,
            video=video,
            words=words,
        )


async def test_0011_drops_chunk_vectors_and_queues_an_embed_job_per_chunked_transcript(
    empty_database: str,
) -> None:
    """Vectors move from chunks to passages: the old ones go, and every transcript with chunks
    gets an embed job, which cuts its passages and embeds them (the backfill)."""
    await run_alembic(empty_database, upgrade_to("0010"))
    [(user,)] = await query(
        empty_database,
        "INSERT INTO users (email, password_hash) VALUES ('m@example.com', 'h') RETURNING id",
    )
    insert_transcript = (
        "INSERT INTO transcripts (user_id, youtube_video_id, transcript_text) "
        "VALUES (:user, :video, 'a b c') RETURNING id"
    )
    [(chunked,)] = await query(empty_database, insert_transcript, user=user, video="chunkedVid1")
    await query(empty_database, insert_transcript, user=user, video="bareVideo01")
    [(chunk,)] = await query(
        empty_database,
        "INSERT INTO chunks (transcript_id, user_id, chunk_text, chunk_index, token_count) "
        "VALUES (:transcript, :user, 'a b c', 0, 3) RETURNING id",
        transcript=chunked,
        user=user,
    )
    await query(
        empty_database,
        "INSERT INTO chunk_embeddings (chunk_id, model, user_id, transcript_id, dims, embedding) "
        "VALUES (:chunk, 'old-model', :user, :transcript, 2, '[1, 0]')",
        chunk=chunk,
        user=user,
        transcript=chunked,
    )

    await run_alembic(empty_database, upgrade)

    tables, _, _ = await schema_objects(empty_database)
    assert "chunk_embeddings" not in tables
    jobs = await query(
        empty_database,
        "SELECT kind, status, transcript_id, youtube_video_id, languages, attempts, max_attempts "
        "FROM jobs",
    )
    assert jobs == [("embed", "queued", chunked, "chunkedVid1", [], 0, 5)]
    # The job cuts the passages: the migration itself leaves the chunks as they are.
    assert await query(empty_database, "SELECT count(*) FROM passages") == [(0,)]
    assert await query(empty_database, "SELECT count(*) FROM chunks") == [(1,)]

    await run_alembic(empty_database, downgrade_to("0010"))
    tables, _, _ = await schema_objects(empty_database)
    assert "chunk_embeddings" in tables
    assert not {"passages", "passage_embeddings"} & tables


async def test_0012_counts_stored_words_and_narrows_existing_api_keys(empty_database: str) -> None:
    """Transcripts stored before the quota count against it as `str.split` counts them, and a
    key made before scopes keeps reading and writing but can no longer mint keys."""
    await run_alembic(empty_database, upgrade_to("0011"))
    [(user,)] = await query(
        empty_database,
        "INSERT INTO users (email, password_hash) VALUES ('w@example.com', 'h') RETURNING id",
    )
    texts = {"wordsVideo1": "  one two\tthree\n four  ", "emptyVideo1": "   "}
    await insert_transcripts(empty_database, user, texts)
    await query(
        empty_database,
        "INSERT INTO api_keys (user_id, name, key_prefix, key_hash) "
        "VALUES (:user, 'old', 'ytk_abcdefgh', :digest)",
        user=user,
        digest="0" * 64,
    )

    await run_alembic(empty_database, upgrade)

    counted = await query(
        empty_database, "SELECT youtube_video_id, word_count FROM transcripts ORDER BY 1"
    )
    assert counted == [(video, len(words.split())) for video, words in sorted(texts.items())]
    assert await query(empty_database, "SELECT scopes, expires_at FROM api_keys") == [
        (["read", "write"], None)
    ]


async def test_0015_reads_the_language_of_transcripts_stored_before(empty_database: str) -> None:
    """Transcripts stored before languages were recorded get theirs from their text; one with
    no words to tell by stays unknown (null)."""
    await run_alembic(empty_database, upgrade_to("0014"))
    [(user,)] = await query(
        empty_database,
        "INSERT INTO users (email, password_hash) VALUES ('l@example.com', 'h') RETURNING id",
    )
    texts = {
        "englishVid1": "Good morning everyone, and thank you for joining the briefing today.",
        "spanishVid1": "Buenas tardes a todos, gracias por acompañarnos en esta conferencia.",
        "germanVide1": "Guten Tag, meine Damen und Herren, wir beraten heute das Gesetz.",
        "noWordsVid1": "12:30 ... 45",
    }
    await insert_transcripts(empty_database, user, texts)

    await run_alembic(empty_database, upgrade)

    read = await query(
        empty_database, "SELECT youtube_video_id, language FROM transcripts ORDER BY 1"
    )
    assert read == [
        ("englishVid1", "en"),
        ("germanVide1", "de"),
        ("noWordsVid1", None),
        ("spanishVid1", "es"),
    ]
    await run_alembic(empty_database, downgrade_to("0014"))
    assert await query(empty_database, "SELECT count(*) FROM transcripts") == [(4,)]
