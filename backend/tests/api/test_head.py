"""HEAD is answered wherever GET is (RFC 9110, section 9.3.2), as uptime monitors and link
checkers ask: with the GET's status and headers, and no body."""

import asyncio
import re

import httpx
import pytest

from tests.api.conftest import Account

# Headers that differ between any two answers.
PER_ANSWER = {"date", "x-request-id"}
SOME_ID = "6f1c2f8e-95b1-4bb0-9a7a-2b0d1b9d1c3e"


def lasting_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in PER_ANSWER}


@pytest.mark.parametrize(
    "path", ["/health", "/health/db", "/", "/docs", "/openapi.json", "/static/app.js"]
)
async def test_a_head_request_gets_the_headers_of_the_get(
    client: httpx.AsyncClient, path: str
) -> None:
    got = await client.get(path)
    head = await client.head(path)

    assert head.status_code == got.status_code == 200
    assert lasting_headers(head) == lasting_headers(got)
    assert head.content == b""


async def test_every_get_operation_answers_head_as_it_answers_get(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Each path of the OpenAPI document that answers GET, with its ids filled in (a 404, or a
    422 for a missing query parameter, is answered alike)."""
    paths = (await client.get("/openapi.json")).json()["paths"]
    answered = []
    for path, operations in paths.items():
        if "get" not in operations or path.endswith("/events"):  # a stream: the next test
            continue
        url = re.sub(r"\{[a-z_]*id\}", SOME_ID, path).replace("{key}", "chat_context_chunks")
        got = await client.get(url, headers=alice.headers)
        head = await client.head(url, headers=alice.headers)
        assert head.status_code == got.status_code, url
        assert lasting_headers(head) == lasting_headers(got), url
        assert head.content == b"", url
        answered.append(got.status_code)
    assert len(answered) > 20
    assert 200 in answered
    assert 404 in answered


async def test_a_head_request_for_an_event_stream_ends_after_its_headers(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """The collection's video is never fetched here (no worker runs): its GET would stream
    until the client left."""
    created = await client.post(
        "/api/v1/collections", json={"videos": ["Pend0000001"]}, headers=alice.headers
    )
    assert created.status_code == 201, created.text
    url = f"/api/v1/collections/{created.json()['id']}/events"

    head = await asyncio.wait_for(client.head(url, headers=alice.headers), timeout=30)

    assert head.status_code == 200
    assert head.headers["content-type"].startswith("text/event-stream")
    assert head.content == b""


async def test_head_is_refused_where_get_is_and_allowed_beside_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    post_only = await client.head("/api/v1/transcripts/ingest", headers=alice.headers)
    get_only = await client.delete("/api/v1/jobs", headers=alice.headers)

    assert post_only.status_code == 405
    assert post_only.headers["allow"] == "POST"
    assert get_only.status_code == 405
    assert get_only.headers["allow"] == "GET, HEAD"
