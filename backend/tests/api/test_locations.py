"""What a POST creates is answered with `Location`: the path where it is read (RFC 9110,
section 10.2.2), relative, so that it holds behind any proxy."""

from typing import Any

import httpx

from tests.api.conftest import Account, ClientFactory
from tests.api.talks import EXAMPLE_TALK
from tests.api.test_webhooks import LOCAL

API = "/api/v1"


async def read_at_location(
    client: httpx.AsyncClient, account: Account, created: httpx.Response, status: int = 201
) -> dict[str, Any]:
    """The created resource, read at its Location, which must name it."""
    assert created.status_code == status, created.text
    location = created.headers["Location"]
    assert location.startswith(f"{API}/"), location
    assert location.endswith(created.json()["id"])
    read = await client.get(location, headers=account.headers)
    assert read.status_code == 200, read.text
    body: dict[str, Any] = read.json()
    assert body["id"] == created.json()["id"]
    return body


async def test_created_videos_conversations_templates_and_collections_say_where_they_are(
    client: httpx.AsyncClient, alice: Account
) -> None:
    headers = alice.headers
    stored = await client.post(
        f"{API}/transcripts",
        json={"video": "located0001", "transcript_text": "Feed the starter twice a day."},
        headers=headers,
    )
    uploaded = await client.post(
        f"{API}/transcripts/upload",
        data={"video": "exampleTalk"},
        files={"file": ("talk.srt", EXAMPLE_TALK.read_bytes())},
        headers=headers,
    )
    conversation = await client.post(f"{API}/conversations", json={}, headers=headers)
    template = await client.post(
        f"{API}/templates",
        json={"template_type": "email", "template_name": "Mine", "template_content": "{topic}"},
        headers=headers,
    )
    collection = await client.post(
        f"{API}/collections", json={"videos": ["exampleTalk"]}, headers=headers
    )

    for created in (stored, uploaded, conversation, template, collection):
        await read_at_location(client, alice, created)


async def test_a_queued_ingest_says_where_its_job_is(
    client: httpx.AsyncClient, alice: Account
) -> None:
    queued = await client.post(
        f"{API}/transcripts/ingest", json={"video": "dQw4w9WgXcQ"}, headers=alice.headers
    )
    job = await read_at_location(client, alice, queued, status=202)
    assert job["youtube_video_id"] == "dQw4w9WgXcQ"


async def test_a_registered_webhook_says_where_it_is(
    make_client: ClientFactory, alice: Account
) -> None:
    async with make_client(**LOCAL) as client:
        created = await client.post(
            f"{API}/webhooks",
            json={"url": "http://127.0.0.1:9/hooks", "events": ["job.failed"]},
            headers=alice.headers,
        )
        await read_at_location(client, alice, created)
