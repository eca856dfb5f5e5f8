"""Two writers of one transcript's chapters at once (the embed job, and a first read of
`GET /transcripts/{id}/chapters` before it finished), on real, separately committed
connections: one outline wins whole, neither fails."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.errors import InvalidValueError
from app.db.models import Transcript
from app.db.repositories import ChapterRepository, NewChapter, UserRepository
from app.db.session import Database
from tests.factories import make_transcript, make_user


@pytest.fixture
async def transcript(database: Database) -> AsyncIterator[Transcript]:
    async with database.unit_of_work() as session:
        user = await make_user(session, f"chapters-{uuid.uuid4().hex[:8]}@example.com")
        stored = await make_transcript(session, user)
    yield stored
    async with database.unit_of_work() as session:
        await UserRepository(session).delete(stored.user_id)


def outline(writer: str, count: int) -> list[NewChapter]:
    return [
        NewChapter(f"{writer} {index}", index * 60.0, None, "A summary.") for index in range(count)
    ]


async def test_a_second_writer_waits_for_the_first_and_replaces_its_outline(
    database: Database, transcript: Transcript
) -> None:
    first_written = asyncio.Event()

    async def first() -> None:
        async with database.unit_of_work() as session:
            await ChapterRepository(session).replace(
                transcript, outline("job", 3), summary="job", source="computed"
            )
            first_written.set()
            await asyncio.sleep(0.5)  # uncommitted while the second writer starts

    async def second() -> None:
        await first_written.wait()
        async with database.unit_of_work() as session:
            await ChapterRepository(session).replace(
                transcript, outline("first read", 4), summary="first read", source="computed"
            )

    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=30)

    async with database.read_only() as session:
        stored = await ChapterRepository(session).for_transcript(transcript.id)
    assert [chapter.title for chapter in stored] == [f"first read {index}" for index in range(4)]


async def test_an_outline_of_an_unknown_source_is_refused(session: AsyncSession) -> None:
    user = await make_user(session)
    stored = await make_transcript(session, user)
    with pytest.raises(InvalidValueError, match="ck_transcripts_chapters_source_allowed"):
        await ChapterRepository(session).replace(
            stored, outline("job", 2), summary="s", source="guessed"
        )
