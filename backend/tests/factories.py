"""Small builders for rows the tests need, each going through the real repositories."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Conversation, LoginFailure, Transcript, UsageCounter, User
from app.db.repositories import (
    ChunkRepository,
    ConversationRepository,
    NewChunk,
    NewPassage,
    PassageRepository,
    TranscriptRepository,
    UserRepository,
)


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


async def make_user(session: AsyncSession, email: str | None = None) -> User:
    """A user, stored as a registration stores one."""
    users, email = UserRepository(session), email or unique_email()
    created = await users.create_unless_taken(email=email, password_hash="argon2-hash-placeholder")
    assert created is not None, f"{email} is taken"
    return await users.get_existing(created)


async def make_conversation(
    session: AsyncSession, user: User, title: str | None = "A chat"
) -> Conversation:
    return await ConversationRepository(session).create(user_id=user.id, title=title)


async def make_transcript(
    session: AsyncSession, user: User, video_id: str = "dQw4w9WgXcQ", *, chunks: int = 0
) -> Transcript:
    transcript = await TranscriptRepository(session).create(
        user_id=user.id, youtube_video_id=video_id, transcript_text="words " * 50
    )
    if chunks:
        await ChunkRepository(session).create_many(
            [new_chunk(transcript, index) for index in range(chunks)]
        )
    return transcript


def new_chunk(transcript: Transcript, index: int, text: str | None = None) -> NewChunk:
    return NewChunk(
        transcript_id=transcript.id,
        user_id=transcript.user_id,
        chunk_index=index,
        chunk_text=text or f"chunk number {index}",
        token_count=3,
        metadata={"start": index * 10.0, "end": index * 10.0 + 9.5},
    )


async def make_passages(
    session: AsyncSession, transcript: Transcript, chunks: int, *, per_chunk: int = 1
) -> list[uuid.UUID]:
    """`chunks` chunks of the transcript, each with `per_chunk` passages ("passage c.p"); the
    passages' ids, in chunk then passage order."""
    chunk_ids = await ChunkRepository(session).create_many(
        [new_chunk(transcript, index) for index in range(chunks)]
    )
    return await PassageRepository(session).create_many(
        [
            new_passage(transcript, chunk_id, index, f"passage {chunk}.{index}")
            for chunk, chunk_id in enumerate(chunk_ids)
            for index in range(per_chunk)
        ]
    )


def new_passage(
    transcript: Transcript, chunk_id: uuid.UUID, index: int, text: str, word_offset: int = 0
) -> NewPassage:
    return NewPassage(
        chunk_id=chunk_id,
        transcript_id=transcript.id,
        user_id=transcript.user_id,
        passage_index=index,
        passage_text=text,
        word_offset=word_offset,
        start_seconds=None,
        end_seconds=None,
    )


def in_hours(hours: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


async def let_login_failures_age(session: AsyncSession, by: timedelta) -> None:
    """Move every login-failure counter into the past, as if `by` had passed."""
    await session.execute(
        update(LoginFailure).values(
            last_failure_at=LoginFailure.last_failure_at - by,
            previous_failure_at=LoginFailure.previous_failure_at - by,
            expires_at=LoginFailure.expires_at - by,
        )
    )


async def let_usage_counters_age(session: AsyncSession, by: timedelta) -> None:
    """Move every usage counter's window into the past, as if `by` had passed."""
    await session.execute(update(UsageCounter).values(window_start=UsageCounter.window_start - by))
