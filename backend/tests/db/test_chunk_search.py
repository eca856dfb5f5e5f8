"""Full-text search on a large library: words found in more chunks than the document-frequency
cap are not searched for when the question has rarer words (they would make every search fetch
and rank tens of thousands of chunks), but they still count in each hit's coverage."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories import ChunkRepository
from app.db.repositories.chunk import DOCUMENT_FREQUENCY_CAP
from tests.factories import make_transcript, make_user, new_chunk


async def library_with_a_common_word(session: AsyncSession) -> uuid.UUID:
    """A user whose every chunk but two says "people"; two say "zebra"."""
    user = await make_user(session)
    transcript = await make_transcript(session, user)
    chunks = [
        new_chunk(transcript, index, f"people talked about item {index}")
        for index in range(DOCUMENT_FREQUENCY_CAP + 5)
    ]
    chunks.append(new_chunk(transcript, len(chunks), "people saw a zebra crossing the road"))
    chunks.append(new_chunk(transcript, len(chunks), "a zebra alone"))
    await ChunkRepository(session).create_many(chunks)
    return user.id


async def test_common_words_are_left_out_of_the_any_word_search(session: AsyncSession) -> None:
    user_id = await library_with_a_common_word(session)

    hits = await ChunkRepository(session).search(user_id, "people zebra", match="any", limit=10)

    assert {hit.chunk_text for hit in hits} == {
        "people saw a zebra crossing the road",
        "a zebra alone",
    }
    both, zebra_only = sorted(hits, key=lambda hit: -hit.coverage)
    assert both.coverage == 1.0  # the common word still counts, weighted by its rarity
    assert 0.5 < zebra_only.coverage < 1.0


async def test_a_question_of_common_words_only_still_finds_them(session: AsyncSession) -> None:
    user_id = await library_with_a_common_word(session)

    hits = await ChunkRepository(session).search(user_id, "people", match="any", limit=10)

    assert len(hits) == 10
    assert all("people" in hit.chunk_text for hit in hits)


async def test_a_rarer_word_found_nowhere_does_not_leave_the_common_ones_out(
    session: AsyncSession,
) -> None:
    user_id = await library_with_a_common_word(session)

    hits = await ChunkRepository(session).search(
        user_id, "people quagmirezz", match="any", limit=10
    )

    assert len(hits) == 10
    assert all("people" in hit.chunk_text for hit in hits)
