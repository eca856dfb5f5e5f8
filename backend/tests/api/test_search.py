import uuid
from collections.abc import Iterable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from testkit.labelled_set import CHUNK_TOKENS, HIT_AT_5_FLOOR, QUESTIONS, answers
from tests.api.conftest import Account, ClientFactory, assert_error, sign_up
from tests.api.talks import embed_queued, ingest_talks, upload_example_talk

SEARCH = "/api/v1/search"


async def search(
    client: httpx.AsyncClient, account: Account, q: str, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(SEARCH, params={"q": q, **params}, headers=account.headers)
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["hits"]
    return hits


@pytest.fixture
async def talks_client(make_client: ClientFactory) -> httpx.AsyncClient:
    return make_client(chunk_tokens=CHUNK_TOKENS, chunk_overlap=0.2)


@pytest.mark.slow
async def test_hit_at_5_on_the_labelled_set(
    talks_client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    async with talks_client as client:
        account = await sign_up(client)
        ids = await ingest_talks(client, account)
        texts = await chunk_texts(client, account, ids.values())
        hits_at_5 = 0
        misses = []
        for question in QUESTIONS:
            top = await search(client, account, question.text, limit=5)
            found = any(
                answers(question, hit["youtube_video_id"], texts[hit["chunk_id"]]) for hit in top
            )
            hits_at_5 += found
            if not found:
                misses.append(question.text)

    score = hits_at_5 / len(QUESTIONS)
    with capsys.disabled():
        print(f"\nretrieval hit@5 = {score:.2f} ({hits_at_5}/{len(QUESTIONS)}); misses: {misses}")
    assert score >= HIT_AT_5_FLOOR, misses


async def chunk_texts(
    client: httpx.AsyncClient, account: Account, transcript_ids: Iterable[str]
) -> dict[str, str]:
    """chunk id → chunk text, for every chunk of these transcripts."""
    texts = {}
    for transcript_id in transcript_ids:
        url = f"/api/v1/transcripts/{transcript_id}/chunks"
        page = await client.get(url, params={"limit": 100}, headers=account.headers)
        texts.update({c["id"]: c["chunk_text"] for c in page.json()["items"]})
    return texts


async def test_hits_carry_timestamps_links_and_highlights(talks_client: httpx.AsyncClient) -> None:
    async with talks_client as client:
        account = await sign_up(client)
        await ingest_talks(client, account)
        hit = (await search(client, account, "Dutch oven"))[0]

    assert hit["youtube_video_id"] == "sourdough01"
    assert hit["title"] == "Sourdough bread for beginners"
    assert hit["language"] == "en"
    assert hit["start_seconds"] is not None
    assert hit["end_seconds"] > hit["start_seconds"]
    assert hit["moment_seconds"] == 5 * 6.0  # the Dutch oven sentence, not the chunk's start
    assert hit["url"] == "https://youtu.be/sourdough01?t=30"
    assert "**Dutch**" in hit["snippet"]
    assert "**oven**" in hit["snippet"]


async def test_websearch_syntax_and_transcript_filter(talks_client: httpx.AsyncClient) -> None:
    async with talks_client as client:
        account = await sign_up(client)
        ids = await ingest_talks(client, account)
        phrase = await search(client, account, '"twenty percent"')
        excluded = await search(client, account, "twenty -percent")
        texts = await chunk_texts(client, account, ids.values())
        only_coffee = await search(client, account, "minutes", transcript_ids=[ids["coffeeBrew1"]])

    assert {h["youtube_video_id"] for h in phrase} == {"solarPanel1"}
    assert excluded
    assert all("percent" not in texts[h["chunk_id"]] for h in excluded)
    assert all("twenty" in texts[h["chunk_id"]].lower() for h in excluded)
    assert only_coffee
    assert {h["youtube_video_id"] for h in only_coffee} == {"coffeeBrew1"}


async def test_search_only_sees_the_callers_transcripts(
    talks_client: httpx.AsyncClient,
) -> None:
    async with talks_client as client:
        owner, stranger = await sign_up(client), await sign_up(client)
        ids = await ingest_talks(client, owner)
        assert await search(client, stranger, "sourdough") == []
        foreign = await client.get(
            SEARCH,
            params={"q": "sourdough", "transcript_ids": [ids["sourdough01"]]},
            headers=stranger.headers,
        )
    # As asking answers it: the id is not the caller's, and nothing says whose it is.
    assert_error(foreign, 404, "not_found")
    assert ids["sourdough01"] in foreign.json()["error"]["message"]


async def test_nothing_matches_is_an_empty_list_and_bad_queries_are_422(
    client: httpx.AsyncClient, alice: Account
) -> None:
    assert await search(client, alice, "zeppelin quasar") == []
    assert await search(client, alice, "the and of") == []  # only stopwords
    assert_error(
        await client.get(SEARCH, params={"q": ""}, headers=alice.headers), 422, "validation_error"
    )
    bad_id = await client.get(
        SEARCH, params={"q": "x", "transcript_ids": "nope"}, headers=alice.headers
    )
    assert_error(bad_id, 422, "validation_error")
    assert_error(await client.get(SEARCH, params={"q": "x"}), 401, "unauthorized")
    for scope in ("transcript_ids", "collection_ids"):
        unknown = await client.get(
            SEARCH, params={"q": "x", scope: [str(uuid.uuid4())]}, headers=alice.headers
        )
        assert_error(unknown, 404, "not_found")


async def test_a_search_before_the_videos_are_ready_says_so(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    """Searched right after an upload, a question in other words than the talk's finds nothing
    while the talk's vectors are being made: `preparing` says to search again."""
    await upload_example_talk(client, alice)  # its embed job is queued, not yet run
    question = {"q": "¿Cuánto tardaba en cargar la página del historial?"}

    early = await client.get(SEARCH, params=question, headers=alice.headers)
    await embed_queued(session)
    ready = await client.get(SEARCH, params=question, headers=alice.headers)
    elsewhere = await client.get(
        SEARCH, params={"q": "What is the capital of Mongolia?"}, headers=alice.headers
    )

    assert (early.json()["answerable"], early.json()["preparing"]) == (False, True)
    assert (ready.json()["answerable"], ready.json()["preparing"]) == (True, False)
    assert "eleven seconds" in ready.json()["hits"][0]["snippet"]
    assert (elsewhere.json()["answerable"], elsewhere.json()["preparing"]) == (False, False)
