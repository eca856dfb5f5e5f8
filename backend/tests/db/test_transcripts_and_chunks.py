import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.errors import ConflictError, NotFoundError
from app.db.repositories import ChunkRepository, TranscriptRepository
from tests.factories import make_transcript, make_user, new_chunk


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
    with pytest.raises(ConflictError, match="sameVideo01") as caught:
        await make_transcript(session, user, "sameVideo01")
    assert caught.value.constraint == "uq_transcripts_user_id_youtube_video_id"


async def test_two_users_may_ingest_the_same_video(session: AsyncSession) -> None:
    first, second = await make_user(session), await make_user(session)
    mine = await make_transcript(session, first, "sharedVideo")
    theirs = await make_transcript(session, second, "sharedVideo")

    assert mine.id != theirs.id
    transcripts = TranscriptRepository(session)
    assert await transcripts.get_by_video_id(second.id, "sharedVideo") is theirs


async def test_list_by_user_only_lists_own_transcripts(session: AsyncSession) -> None:
    user, other = await make_user(session), await make_user(session)
    for i in range(3):
        await make_transcript(session, user, f"video{i}")
    await make_transcript(session, other, "video9")
    transcripts = TranscriptRepository(session)

    listed = await transcripts.list_by_user(user.id, limit=2)

    assert len(listed) == 2
    assert {t.user_id for t in listed} == {user.id}
    assert await transcripts.count_by_user(user.id) == 3


async def test_create_many_stores_a_batch_in_order(session: AsyncSession) -> None:
    transcript = await make_transcript(session, await make_user(session))
    chunks = ChunkRepository(session)

    transcript_id = transcript.id
    created = await chunks.create_many(
        [new_chunk(transcript, i, f"text {i} — ünïcode") for i in range(25)]
    )

    session.expunge_all()
    listed = await chunks.list_by_transcript(transcript_id)
    assert [c.id for c in listed] == created  # the ids, in input (here chunk_index) order
    assert all(c.created_at is not None for c in listed)
    assert [c.chunk_text for c in listed] == [f"text {i} — ünïcode" for i in range(25)]
    assert listed[3].meta == {"start": 30.0, "end": 39.5}
    assert await chunks.create_many([]) == []


async def test_create_many_is_one_statement(session: AsyncSession) -> None:
    transcript = await make_transcript(session, await make_user(session))
    statements: list[str] = []
    sync_engine = session.bind.engine.sync_engine  # type: ignore[union-attr]

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    from sqlalchemy import event

    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        await ChunkRepository(session).create_many([new_chunk(transcript, i) for i in range(500)])
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)

    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1


async def test_list_by_transcript_orders_by_chunk_index(session: AsyncSession) -> None:
    transcript = await make_transcript(session, await make_user(session))
    chunks = ChunkRepository(session)
    await chunks.create_many([new_chunk(transcript, i) for i in (4, 0, 3, 1, 2)])

    page = await chunks.list_by_transcript(transcript.id, limit=3, offset=1)

    assert [c.chunk_index for c in page] == [1, 2, 3]


async def test_repeated_chunk_index_conflicts_and_writes_nothing(session: AsyncSession) -> None:
    transcript = await make_transcript(session, await make_user(session))
    transcript_id = transcript.id
    chunks = ChunkRepository(session)
    batch = [new_chunk(transcript, 0), new_chunk(transcript, 1), new_chunk(transcript, 1)]

    with pytest.raises(ConflictError, match="chunk_index"):
        await chunks.create_many(batch)
    await session.rollback()

    assert await chunks.list_by_transcript(transcript_id) == []


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


async def test_get_by_ids_keeps_input_order_and_owner_scope(session: AsyncSession) -> None:
    user, other = await make_user(session), await make_user(session)
    mine = await make_transcript(session, user, "mine0000001", chunks=3)
    theirs = await make_transcript(session, other, "their000001", chunks=1)
    chunks = ChunkRepository(session)
    my_chunks = list(await chunks.list_by_transcript(mine.id))
    their_chunk = (await chunks.list_by_transcript(theirs.id))[0]
    wanted = [my_chunks[2].id, their_chunk.id, uuid.uuid4(), my_chunks[0].id]

    assert [c.id for c in await chunks.get_by_ids(wanted)] == [
        my_chunks[2].id,
        their_chunk.id,
        my_chunks[0].id,
    ]
    assert [c.id for c in await chunks.get_by_ids(wanted, user_id=user.id)] == [
        my_chunks[2].id,
        my_chunks[0].id,
    ]
    assert await chunks.get_by_ids([]) == []


async def test_delete_by_transcript_counts_and_deleting_transcript_cascades(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    first = await make_transcript(session, user, "first000001", chunks=4)
    second = await make_transcript(session, user, "second00001", chunks=2)
    chunks = ChunkRepository(session)

    assert await chunks.delete_by_transcript(first.id) == 4
    assert await chunks.delete_by_transcript(first.id) == 0

    assert await TranscriptRepository(session).delete(second.id) is True
    assert await chunks.list_by_transcript(second.id) == []
