"""Whether a user's videos are still being prepared, or stored at all: what an answer that found
nothing says."""

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Job
from app.db.repositories import JobRepository, TranscriptRepository
from tests.factories import make_transcript, make_user


async def test_a_queued_or_running_job_means_videos_are_still_being_prepared(
    session: AsyncSession,
) -> None:
    user, other = await make_user(session), await make_user(session)
    jobs = JobRepository(session)
    assert not await jobs.preparing(user.id, None)

    ingest, _ = await jobs.enqueue_ingest(
        user_id=user.id, video_id="fetching001", languages=["en"], max_attempts=3
    )
    assert await jobs.preparing(user.id, None)
    assert not await jobs.preparing(other.id, None)  # another user's jobs are not theirs

    await session.execute(update(Job).where(Job.id == ingest.id).values(status="running"))
    assert await jobs.preparing(user.id, None)
    await jobs.mark_failed(ingest.id, "video_unavailable", "gone")
    assert not await jobs.preparing(user.id, None)  # a failed video is not coming


async def test_a_scoped_question_counts_only_its_own_videos_being_embedded(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    asked = await make_transcript(session, user, "askedvideo1")
    elsewhere = await make_transcript(session, user, "elsewhere01")
    jobs = JobRepository(session)
    embed = await jobs.enqueue_embed(
        user_id=user.id,
        transcript_id=elsewhere.id,
        video_id=elsewhere.youtube_video_id,
        max_attempts=3,
    )
    await jobs.enqueue_ingest(
        user_id=user.id, video_id="fetching002", languages=["en"], max_attempts=3
    )

    assert not await jobs.preparing(user.id, [asked.id])
    assert await jobs.preparing(user.id, [asked.id, elsewhere.id])
    await jobs.mark_done(embed.id, elsewhere.id)
    assert not await jobs.preparing(user.id, [elsewhere.id])
    assert await jobs.preparing(user.id, None)  # the whole library: a video is still fetched


async def test_a_library_has_videos_once_a_transcript_is_stored(session: AsyncSession) -> None:
    user, other = await make_user(session), await make_user(session)
    transcripts = TranscriptRepository(session)
    assert not await transcripts.has_any(user.id)
    await make_transcript(session, other)
    assert not await transcripts.has_any(user.id)
    await make_transcript(session, user)
    assert await transcripts.has_any(user.id)
