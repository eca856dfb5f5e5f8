import itertools
import uuid
from typing import Any

import httpx
import pytest

from app.db.repositories import ChunkRepository, TranscriptRepository
from tests.api.conftest import Account, ClientFactory, assert_error
from tests.api.talks import upload_example_talk

TRANSCRIPTS = "/api/v1/transcripts"


def words(count: int, prefix: str = "word") -> str:
    return " ".join(f"{prefix}{i}" for i in range(count))


def timed_segments(count: int) -> list[dict[str, Any]]:
    return [
        {"text": f"segment {i} says something about topic {i}.", "start": i * 4.0, "duration": 4.0}
        for i in range(count)
    ]


async def ingest(
    client: httpx.AsyncClient, account: Account, video: str = "dQw4w9WgXcQ", **body: Any
) -> httpx.Response:
    payload = {"video": video, "transcript_text": words(50), **body}
    return await client.post(TRANSCRIPTS, json=payload, headers=account.headers)


@pytest.mark.parametrize(
    "video",
    [
        "dQw4w9WgXcQ",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
        "https://youtu.be/dQw4w9WgXcQ?si=abc",
        "youtube.com/shorts/dQw4w9WgXcQ",
        "https://m.youtube.com/watch?feature=share&v=dQw4w9WgXcQ",
        "https://www.youtube.com/embed/dQw4w9WgXcQ",
        "https://www.youtube.com/live/dQw4w9WgXcQ?feature=shared",
    ],
)
async def test_any_youtube_url_form_names_the_video(
    client: httpx.AsyncClient, alice: Account, video: str
) -> None:
    response = await ingest(client, alice, video)
    assert response.status_code == 201, response.text
    assert response.json()["youtube_video_id"] == "dQw4w9WgXcQ"


async def test_long_text_is_chunked_by_tokens_with_overlap(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await ingest(client, alice, transcript_text=words(10_000), title="Long talk")
    assert created.status_code == 201
    body = created.json()
    assert body["chunk_count"] > 1

    chunks_url = f"{TRANSCRIPTS}/{body['id']}/chunks"
    page = (await client.get(chunks_url, params={"limit": 100}, headers=alice.headers)).json()
    chunks = page["items"]
    assert page["total"] == body["chunk_count"] == len(chunks)
    assert [c["chunk_index"] for c in chunks] == list(range(len(chunks)))
    assert all(c["token_count"] <= 700 for c in chunks)
    assert all(c["token_count"] > 600 for c in chunks[:-1])
    first_words, second_words = chunks[0]["chunk_text"].split(), chunks[1]["chunk_text"].split()
    overlap = set(first_words) & set(second_words)
    assert 0.1 * len(first_words) < len(overlap) < 0.3 * len(first_words)
    assert second_words[0] in first_words  # the second window starts inside the first


async def test_timed_segments_give_chunks_their_start_and_end_seconds(
    make_client: ClientFactory,
) -> None:
    from tests.api.conftest import sign_up

    async with make_client(chunk_tokens=60, chunk_overlap=0.0) as client:
        account = await sign_up(client)
        response = await client.post(
            TRANSCRIPTS,
            json={"video": "abcdefghijk", "segments": timed_segments(20)},
            headers=account.headers,
        )
        assert response.status_code == 201, response.text
        transcript_id = response.json()["id"]
        chunks = (
            await client.get(f"{TRANSCRIPTS}/{transcript_id}/chunks", headers=account.headers)
        ).json()["items"]

    assert len(chunks) > 2
    assert chunks[0]["metadata"]["start_seconds"] == 0.0
    assert chunks[-1]["metadata"]["end_seconds"] == 80.0
    for previous, current in itertools.pairwise(chunks):
        assert previous["metadata"]["end_seconds"] <= current["metadata"]["start_seconds"] + 4.0


async def test_a_transcript_says_the_language_it_is_spoken_in(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Read from the words, whether they come as text or as timed segments."""
    spanish = "Buenas tardes. Hoy vamos a hablar de la vacunación en las zonas rurales del país."
    german = "Guten Tag. Wir beraten heute in zweiter Lesung über die Reform des BAföG."
    as_text = (await ingest(client, alice, "spanishText", transcript_text=spanish)).json()
    as_segments = await client.post(
        TRANSCRIPTS,
        json={"video": "germanSegms", "segments": [{"text": german, "start": 0, "duration": 9}]},
        headers=alice.headers,
    )
    no_words = (await ingest(client, alice, "numbersOnly", transcript_text="12 34 56")).json()

    assert as_text["language"] == "es"
    assert as_segments.json()["language"] == "de"
    assert no_words["language"] is None
    detail = await client.get(f"{TRANSCRIPTS}/{as_text['id']}", headers=alice.headers)
    assert detail.json()["language"] == "es"


async def test_get_list_and_delete(client: httpx.AsyncClient, alice: Account, session: Any) -> None:
    first = (await ingest(client, alice, "aaaaaaaaaaa", title="First")).json()
    await ingest(client, alice, "bbbbbbbbbbb", title="Second")

    detail = await client.get(f"{TRANSCRIPTS}/{first['id']}", headers=alice.headers)
    assert detail.json()["transcript_text"] == words(50)
    listed = (await client.get(TRANSCRIPTS, headers=alice.headers)).json()
    assert listed["total"] == 2
    assert "transcript_text" not in listed["items"][0]

    deleted = await client.delete(f"{TRANSCRIPTS}/{first['id']}", headers=alice.headers)
    assert deleted.status_code == 204
    chunks = await ChunkRepository(session).page_for_transcript(uuid.UUID(first["id"]))
    assert chunks.total == 0


async def test_the_same_video_twice_is_a_conflict_and_writes_nothing(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    assert (await ingest(client, alice, "ccccccccccc")).status_code == 201
    again = await ingest(client, alice, "https://youtu.be/ccccccccccc")
    error = assert_error(again, 409, "conflict")
    assert error["message"] == "Already exists: video=ccccccccccc"
    assert [detail["field"] for detail in error["details"]] == ["body.video"]
    assert (await ingest(client, bob, "ccccccccccc")).status_code == 201  # per user, not global
    assert (await client.get(TRANSCRIPTS, headers=alice.headers)).json()["total"] == 1


async def test_transcript_and_chunks_are_written_together_or_not_at_all(
    client: httpx.AsyncClient, alice: Account, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_create_many(self: object, chunks: object) -> None:
        raise RuntimeError("the chunk insert failed")

    monkeypatch.setattr(ChunkRepository, "create_many", failing_create_many)

    response = await ingest(client, alice, "ddddddddddd")

    assert_error(response, 500, "internal_error")
    assert "chunk insert" not in response.text  # internals stay in the log
    transcript = await TranscriptRepository(session).get_by_video_id(
        uuid.UUID(alice.id), "ddddddddddd"
    )
    assert transcript is None


@pytest.mark.parametrize(
    "payload",
    [
        {"video": "https://vimeo.com/123", "transcript_text": "x"},
        {"video": "https://www.youtube.com/watch?v=short", "transcript_text": "x"},
        {"video": "dQw4w9WgXcQ"},
        {"video": "dQw4w9WgXcQ", "transcript_text": "x", "segments": []},
        {"video": "dQw4w9WgXcQ", "transcript_text": "   "},
        {"video": "dQw4w9WgXcQ", "segments": [{"text": "x", "start": -1, "duration": 1}]},
        {"video": "dQw4w9WgXcQ", "transcript_text": "x", "duration": -5},
    ],
)
async def test_bad_transcripts_are_422(
    client: httpx.AsyncClient, alice: Account, payload: dict[str, Any]
) -> None:
    response = await client.post(TRANSCRIPTS, json=payload, headers=alice.headers)
    assert_error(response, 422, "validation_error")


async def test_an_oversized_body_is_413(make_client: ClientFactory) -> None:
    from tests.api.conftest import sign_up

    async with make_client(max_request_bytes=4096) as client:
        account = await sign_up(client)
        response = await ingest(client, account, transcript_text=words(2000))
        assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("DELETE", ""), ("GET", "/chunks")])
async def test_another_users_transcript_answers_404(
    client: httpx.AsyncClient, alice: Account, bob: Account, method: str, suffix: str
) -> None:
    transcript_id = (await ingest(client, alice, "eeeeeeeeeee")).json()["id"]

    foreign = await client.request(
        method, f"{TRANSCRIPTS}/{transcript_id}{suffix}", headers=bob.headers
    )
    missing = await client.request(
        method, f"{TRANSCRIPTS}/{uuid.uuid4()}{suffix}", headers=bob.headers
    )

    assert_error(foreign, 404, "not_found")
    assert_error(missing, 404, "not_found")
    assert (
        await client.get(f"{TRANSCRIPTS}/{transcript_id}", headers=alice.headers)
    ).status_code == 200


async def test_a_list_leaves_out_the_timed_segments_its_detail_shows(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Every cue's words in every listed video made a page of one video megabytes long."""
    await upload_example_talk(client, alice)

    listed = (await client.get(TRANSCRIPTS, headers=alice.headers)).json()["items"][0]
    detail = (await client.get(f"{TRANSCRIPTS}/{listed['id']}", headers=alice.headers)).json()

    assert "segments" not in listed["metadata"]
    assert listed["language"] == "en"
    assert len(detail["metadata"]["segments"]) == 24


@pytest.mark.parametrize(
    "source",
    [
        {"segments": [{"text": "Hello there.", "start": 0, "duration": 2}]},
        {"transcript_text": "Plain text here."},
    ],
)
async def test_a_metadata_segments_key_is_refused_not_overwritten_or_read_as_captions(
    client: httpx.AsyncClient, alice: Account, source: dict[str, Any]
) -> None:
    body = {"video": "metatest001", **source, "metadata": {"segments": "mine", "keep": 1}}
    refused = await client.post("/api/v1/transcripts", json=body, headers=alice.headers)

    error = assert_error(refused, 422, "validation_error")
    assert error["details"][0]["field"] == "body.metadata"
    assert "segments" in error["details"][0]["message"]
