"""The requests usage limits count, for tests: asks, drafts, stored transcripts, uploads and
ingests by link; `GET /usage`, and a 429 checked to name the limit that refused it."""

from typing import Any

import httpx

from tests.api.conftest import Account, assert_error

USAGE = "/api/v1/usage"
OVEN_TALK = (
    "The sourdough oven temperature should be two hundred and fifty degrees for the first "
    "twenty minutes, then lower it so the crust browns without burning."
)
OVEN_TOPIC = "sourdough oven temperature"
CAPTIONS = "1\n00:00:00,000 --> 00:00:04,000\nThe oven goes to two hundred and fifty degrees.\n"


async def new_conversation(client: httpx.AsyncClient, account: Account) -> str:
    response = await client.post("/api/v1/conversations", json={}, headers=account.headers)
    return str(response.json()["id"])


async def ask(
    client: httpx.AsyncClient, account: Account, conversation_id: str, question: str = "Why?"
) -> httpx.Response:
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"content": question},
        headers=account.headers,
    )


async def draft(client: httpx.AsyncClient, account: Account) -> httpx.Response:
    body = {"template_type": "linkedin", "topic": OVEN_TOPIC}
    return await client.post("/api/v1/drafts", json=body, headers=account.headers)


async def store_transcript(
    client: httpx.AsyncClient, account: Account, video: str = "oventalk001"
) -> httpx.Response:
    body = {"video": video, "title": "Baking", "transcript_text": OVEN_TALK}
    return await client.post("/api/v1/transcripts", json=body, headers=account.headers)


async def upload(client: httpx.AsyncClient, account: Account, video: str) -> httpx.Response:
    return await client.post(
        "/api/v1/transcripts/upload",
        files={"file": ("talk.srt", CAPTIONS.encode(), "application/x-subrip")},
        data={"video": video},
        headers=account.headers,
    )


async def ingest(client: httpx.AsyncClient, account: Account, video: str) -> httpx.Response:
    return await client.post(
        "/api/v1/transcripts/ingest", json={"video": video}, headers=account.headers
    )


async def limits_of(client: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    response = await client.get(USAGE, headers=account.headers)
    assert response.status_code == 200, response.text
    limits: dict[str, Any] = response.json()["limits"]
    return limits


def assert_refused_by(response: httpx.Response, label: str, longest_wait: int) -> int:
    """A 429 naming the limit (`asks per minute: 2`); returns its `Retry-After`."""
    error = assert_error(response, 429, "rate_limited")
    assert label in error["message"]
    assert error["details"][0]["type"] == label.split(":")[0].replace(" ", "_")
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= longest_wait
    return wait
