"""Full-text search on a large library: words found in more passages than the document-frequency
cap are not searched for when the question has rarer words that occur (they would make every
search fetch and rank tens of thousands of passages), but they still count in each hit's
coverage; a question of common words alone ranks a bounded share of their matches."""

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import INTEGER, TEXT, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories import ChunkRepository, PassageRepository
from app.db.repositories.passage import (
    _MATCHING_PASSAGES,
    DOCUMENT_FREQUENCY_CAP,
    RANKED_COMMON_MATCHES_CAP,
    RANKED_MATCHES_CAP,
    QueryWords,
    search_sql,
)
from tests.factories import make_transcript, make_user, new_chunk, new_passage


async def library_with_a_common_word(session: AsyncSession) -> uuid.UUID:
    """A user whose every passage but two says "people"; two say "zebra". Each is its chunk's
    only passage."""
    user = await make_user(session)
    transcript = await make_transcript(session, user)
    texts = [f"people talked about item {index}" for index in range(DOCUMENT_FREQUENCY_CAP + 5)]
    texts += ["people saw a zebra crossing the road", "a zebra alone"]
    chunk_ids = await ChunkRepository(session).create_many(
        [new_chunk(transcript, index, text) for index, text in enumerate(texts)]
    )
    await PassageRepository(session).create_many(
        [
            new_passage(transcript, chunk_id, 0, text)
            for chunk_id, text in zip(chunk_ids, texts, strict=True)
        ]
    )
    return user.id


async def test_common_words_are_left_out_of_the_any_word_search(session: AsyncSession) -> None:
    user_id = await library_with_a_common_word(session)

    hits = await PassageRepository(session).search(user_id, "people zebra", match="any", limit=10)

    assert {hit.chunk_text for hit in hits} == {
        "people saw a zebra crossing the road",
        "a zebra alone",
    }
    both, zebra_only = sorted(hits, key=lambda hit: -hit.coverage)
    assert both.coverage == 1.0  # the common word still counts, weighted by its rarity
    assert 0.5 < zebra_only.coverage < 1.0


async def test_a_question_of_common_words_only_still_finds_them(session: AsyncSession) -> None:
    user_id = await library_with_a_common_word(session)

    hits = await PassageRepository(session).search(user_id, "people", match="any", limit=10)

    assert len(hits) == 10
    assert all("people" in hit.chunk_text for hit in hits)


async def test_a_rarer_word_found_nowhere_does_not_leave_the_common_ones_out(
    session: AsyncSession,
) -> None:
    user_id = await library_with_a_common_word(session)

    hits = await PassageRepository(session).search(
        user_id, "people quagmirezz", match="any", limit=10
    )

    assert len(hits) == 10
    assert all("people" in hit.chunk_text for hit in hits)


async def test_a_question_of_common_words_ranks_a_bounded_share_of_their_matches(
    session: AsyncSession,
) -> None:
    user_id = await library_with_a_common_word(session)
    repository = PassageRepository(session)
    words = await repository.query_words(user_id, "people")
    statement = text("EXPLAIN (ANALYZE, FORMAT JSON) " + search_sql(_MATCHING_PASSAGES)).bindparams(
        bindparam("transcript_ids", type_=ARRAY(UUID(as_uuid=True))),
        bindparam("terms", type_=ARRAY(TEXT)),
        bindparam("term_counts", type_=ARRAY(INTEGER)),
    )
    parameters = {
        "user_id": user_id,
        "tsquery": words.any_word_query(),
        "ranked_cap": words.ranked_matches_cap("any"),
        "transcript_ids": None,
        "limit": 10,
        "terms": list(words.terms),
        "term_counts": list(words.counts),
    }

    plan = (await session.execute(statement, parameters)).scalar_one()

    assert words.counts == (DOCUMENT_FREQUENCY_CAP,)
    scans = list(nodes_over(plan[0]["Plan"], "passages"))
    assert scans  # the passages read for ranking: at most the bound, though 1,006 match
    assert all(node["Actual Rows"] <= RANKED_COMMON_MATCHES_CAP for node in scans)
    assert any(node["Actual Rows"] == RANKED_COMMON_MATCHES_CAP for node in scans)
    # The planner saw the question's words as a constant, not a value computed in the query.
    conditions = [f"{node.get('Filter')} {node.get('Recheck Cond')}" for node in scans]
    assert any("search_vector @@ '''peopl'''::tsquery" in c for c in conditions)


def nodes_over(node: dict[str, Any], relation: str) -> Iterator[dict[str, Any]]:
    if node.get("Relation Name") == relation:
        yield node
    for child in node.get("Plans", []):
        yield from nodes_over(child, relation)


def test_common_words_are_searched_only_when_no_rarer_word_occurs() -> None:
    common, rare = DOCUMENT_FREQUENCY_CAP, 12
    words = QueryWords(("'peopl'", "'zebra'", "'quagmir'"), (common, rare, 0), "'peopl'")
    assert words.any_word_query() == "'zebra' | 'quagmir'"
    assert words.ranked_matches_cap("any") == RANKED_MATCHES_CAP

    nowhere = QueryWords(("'peopl'", "'quagmir'"), (common, 0), None)
    assert nowhere.any_word_query() == "'peopl' | 'quagmir'"
    assert nowhere.ranked_matches_cap("any") == RANKED_COMMON_MATCHES_CAP
    assert nowhere.ranked_matches_cap("all") == RANKED_MATCHES_CAP

    assert QueryWords((), (), None).any_word_query() is None
