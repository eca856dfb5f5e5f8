import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.errors import ConflictError, NotFoundError
from app.db.repositories import ChunkRepository, TranscriptRepository
from app.db.repositories.paging import PageRequest
from tests.factories import make_transcript, make_user, new_chunk
from tests.statements import engine_of, statements_sent


async def test_create_and_find_by_video(session: AsyncSession) -> None:
    user = await make_user(session)
    transcripts = TranscriptRepository(session)
    transcript = await transcripts.create(
        user_id=user.id,
        youtube_video_id="abcdefghijk",
        transcript_text="hello world",
        title="A talk",
        channel_name="A channel",
        duration=300,
        metadata={"language": "en", "segments": [{"start": 0.0, "text": "hello"}]},
    )

    assert await transcripts.get_by_id(transcript.id) is transcript
    assert await transcripts.get_by_video_id(user.id, "abcdefghijk") is transcript
    assert await transcripts.get_by_video_id(user.id, "zzzzzzzzzzz") is None
    assert transcript.meta["segments"][0]["text"] == "hello"


async def test_same_video_twice_for_one_user_is_a_conflict(session: AsyncSession) -> None:
    user = await make_user(session)
    await make_transcript(session, user, "sameVideo01")
    with pytest.raises(ConflictError, match="youtube_video_id") as caught:
        await make_transcript(session, user, "sameVideo01")
    assert caught.value.constraint == "uq_transcripts_user_id_youtube_video_id"
    assert caught.value.fields["youtube_video_id"] == "sameVideo01"


async def test_two_users_may_ingest_the_same_video(session: AsyncSession) -> None:
    first, second = await make_user(session), await make_user(session)
    mine = await make_transcript(session, first, "sharedVideo")
    theirs = await make_transcript(session, second, "sharedVideo")

    assert mine.id != theirs.id
    transcripts = TranscriptRepository(session)
    assert await transcripts.get_by_video_id(second.id, "sharedVideo") is theirs


async def test_page_for_user_only_lists_own_transcripts(session: AsyncSession) -> None:
    user, other = await make_user(session), await make_user(session)
    for i in range(3):
        await make_transcript(session, user, f"video{i}")
    await make_transcript(session, other, "video9")
    transcripts = TranscriptRepository(session)

    page = await transcripts.page_for_user(user.id, PageRequest(2))

    assert len(page.rows) == 2
    assert {t.user_id for t in page.rows} == {user.id}
    assert page.total == 3


async def test_pages_follow_on_and_tell_the_total_counted_or_not(session: AsyncSession) -> None:
    """A short page tells the total itself; a full one, or an empty one past the end, counts."""
    user = await make_user(session)
    for i in range(5):
        await make_transcript(session, user, f"paged{i}")
    transcripts = TranscriptRepository(session)

    pages = [await transcripts.page_for_user(user.id, PageRequest(2, at)) for at in (0, 2, 4, 6)]

    assert [len(page.rows) for page in pages] == [2, 2, 1, 0]
    assert [page.total for page in pages] == [5, 5, 5, 5]
    assert len({t.id for page in pages for t in page.rows}) == 5


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (1001, 0), (10, -1), (10, 2**63)])
def test_bad_page_bounds_are_refused(limit: int, offset: int) -> None:
    """Before any statement: bounds PostgreSQL would reject, or a page of a whole table."""
    with pytest.raises(ValueError, match=r"limit|offset"):
        PageRequest(limit, offset)


async def test_create_many_stores_a_batch_in_order(session: AsyncSession) -> None:
    transcript = await make_transcript(session, await make_user(session))
    chunks = ChunkRepository(session)

    transcript_id = transcript.id
    created = await chunks.create_many(
        [new_chunk(transcript, i, f"text {i} — ünïcode") for i in range(25)]
    )

    session.expunge_all()
    listed = (await chunks.page_for_transcript(transcript_id)).rows
    assert [c.id for c in listed] == created  # the ids, in input (here chunk_index) order
    assert all(c.created_at is not None for c in listed)
    assert [c.chunk_text for c in listed] == [f"text {i} — ünïcode" for i in range(25)]
    assert listed[3].meta == {"start": 30.0, "end": 39.5}
    assert await chunks.create_many([]) == []


async def test_create_many_is_one_statement(session: AsyncSession) -> None:
    transcript = await make_transcript(session, await make_user(session))
    with statements_sent(engine_of(session)) as statements:
        await ChunkRepository(session).create_many([new_chunk(transcript, i) for i in range(500)])

    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1


async def test_page_for_transcript_orders_by_chunk_index(session: AsyncSession) -> None:
    transcript = await make_transcript(session, await make_user(session))
    chunks = ChunkRepository(session)
    await chunks.create_many([new_chunk(transcript, i) for i in (4, 0, 3, 1, 2)])

    page = await chunks.page_for_transcript(transcript.id, PageRequest(3, 1))

    assert [c.chunk_index for c in page.rows] == [1, 2, 3]
    assert page.total == 5


async def test_repeated_chunk_index_conflicts_and_writes_nothing(session: AsyncSession) -> None:
    transcript = await make_transcript(session, await make_user(session))
    transcript_id = transcript.id
    chunks = ChunkRepository(session)
    batch = [new_chunk(transcript, 0), new_chunk(transcript, 1), new_chunk(transcript, 1)]

    with pytest.raises(ConflictError, match="chunk_index"):
        await chunks.create_many(batch)
    await session.rollback()

    assert (await chunks.page_for_transcript(transcript_id)).rows == []


async def test_chunks_for_unknown_transcript_are_not_found(session: AsyncSession) -> None:
    transcript = await make_transcript(session, await make_user(session))
    orphan = new_chunk(transcript, 0)
    stray = type(orphan)(
        transcript_id=uuid.uuid4(),
        user_id=orphan.user_id,
        chunk_index=0,
        chunk_text="x",
        token_count=1,
    )
    with pytest.raises(NotFoundError, match="transcripts"):
        await ChunkRepository(session).create_many([stray])


async def test_deleting_a_transcript_deletes_its_chunks(session: AsyncSession) -> None:
    user = await make_user(session)
    kept = await make_transcript(session, user, "first000001", chunks=4)
    deleted = await make_transcript(session, user, "second00001", chunks=2)
    chunks = ChunkRepository(session)

    assert await TranscriptRepository(session).delete(deleted.id) is True
    assert (await chunks.page_for_transcript(deleted.id)).rows == []
    assert (await chunks.page_for_transcript(kept.id)).total == 4
