import asyncio
import io
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from rich.console import Console
from sqlalchemy import text

from app import cli
from app.core.config import BACKEND_DIR
from app.db.repositories import ChunkRepository, UserRepository
from app.db.session import Database
from app.db.vector_index import VECTOR_INDEX_PREFIX, vector_index_name
from app.services.embeddings.base import EmbeddingError
from testkit.llm_server import FakeEmbeddings, serving
from tests.factories import make_transcript, make_user
from tests.fakes import HashingEmbedder


async def test_grant_and_revoke_admin(database: Database) -> None:
    email = f"boss-{uuid.uuid4().hex[:8]}@example.com"
    async with database.unit_of_work() as session:
        await make_user(session, email)

    try:
        assert await cli.set_admin(database, email, True) == f"{email} is now an administrator"
        async with database.unit_of_work() as session:
            assert (await UserRepository(session).get_by_email(email)).is_admin  # type: ignore[union-attr]
        assert "no longer" in await cli.set_admin(database, email.upper(), False)
    finally:
        async with database.unit_of_work() as session:
            users = UserRepository(session)
            user = await users.get_by_email(email)
            assert user is not None
            await users.delete(user.id)


@pytest.mark.slow
def test_the_command_reports_an_unknown_email(database_url: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "app.cli", "grant-admin", "nobody@example.com"],
        cwd=BACKEND_DIR,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert "nobody@example.com" in completed.stderr


@asynccontextmanager
async def committed_chunks(database: Database, count: int) -> AsyncIterator[list[uuid.UUID]]:
    """A user with a transcript of `count` chunks stored without passages (as before passages
    existed), committed; removed afterwards, with their passages, vectors and any vector index
    built meanwhile."""
    async with database.unit_of_work() as session:
        user = await make_user(session)
        transcript = await make_transcript(session, user, chunks=count)
        chunks = [
            chunk.id
            for chunk in (await ChunkRepository(session).page_for_transcript(transcript.id)).rows
        ]
    try:
        yield chunks
    finally:
        async with database.unit_of_work() as session:
            await UserRepository(session).delete(user.id)
            names = await session.scalars(
                text("SELECT indexname FROM pg_indexes WHERE indexname LIKE :prefix"),
                {"prefix": VECTOR_INDEX_PREFIX + "%"},
            )
            for name in names.all():
                await session.execute(text(f"DROP INDEX {name}"))


async def vector_count(database: Database, chunks: list[uuid.UUID], model: str) -> int:
    """How many passages of these chunks have a vector of `model`."""
    async with database.unit_of_work() as session:
        count = await session.scalar(
            text(
                "SELECT count(*) FROM passage_embeddings e JOIN passages p ON p.id = e.passage_id "
                "WHERE p.chunk_id = ANY(:ids) AND e.model = :m"
            ),
            {"ids": chunks, "m": model},
        )
    return int(count or 0)


async def passage_count(database: Database, chunks: list[uuid.UUID]) -> int:
    async with database.unit_of_work() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM passages WHERE chunk_id = ANY(:ids)"), {"ids": chunks}
        )
    return int(count or 0)


async def test_embed_missing_commits_as_it_goes_and_resumes(database: Database) -> None:
    provider = HashingEmbedder("cli-model", 12)
    provider.failures = [None, EmbeddingError("the embedding server is unreachable")]
    batches_of_4 = Database(database.settings.model_copy(update={"embedding_batch_size": 4}))
    output = io.StringIO()
    async with committed_chunks(database, 10) as chunks:
        with pytest.raises(EmbeddingError):
            await cli.embed_missing(batches_of_4, Console(file=output), lambda _: provider)
        assert await passage_count(database, chunks) == 10  # cut first: one per chunk
        assert await vector_count(database, chunks, "cli-model") == 4  # the first batch kept

        embedded = await cli.embed_missing(batches_of_4, Console(file=output), lambda _: provider)
        await batches_of_4.dispose()

        assert embedded >= 6
        assert await vector_count(database, chunks, "cli-model") == 10
        assert "Embedded" in output.getvalue()
        assert "cli-model" in output.getvalue()
        async with database.unit_of_work() as session:
            index = await session.scalar(
                text("SELECT count(*) FROM pg_indexes WHERE indexname = :name"),
                {"name": vector_index_name("cli-model", 12)},
            )
        assert index == 1


@pytest.mark.slow
async def test_the_embed_command_uses_the_configured_server(
    database: Database, database_url: str
) -> None:
    server = FakeEmbeddings(dimensions=8)
    async with serving(server) as base_url, committed_chunks(database, 3) as chunks:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.cli",
            "embed-missing",
            cwd=BACKEND_DIR,
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "EMBEDDING_BASE_URL": base_url,
                "EMBEDDING_MODEL": "cli-http-model",
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, errors = await process.communicate()

        assert process.returncode == 0, errors.decode()
        assert "Embedded" in errors.decode()
        assert await passage_count(database, chunks) == 3
        assert await vector_count(database, chunks, "cli-http-model") == 3


@pytest.mark.slow
def test_the_embed_command_refuses_when_embeddings_are_disabled(database_url: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "app.cli", "embed-missing"],
        cwd=BACKEND_DIR,
        env={**os.environ, "DATABASE_URL": database_url, "EMBEDDINGS_ENABLED": "false"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert "EMBEDDINGS_ENABLED=false" in completed.stderr
