import uuid

import httpx
import pytest

from tests.api.conftest import Account, ClientFactory, assert_error

CONVERSATIONS = "/api/v1/conversations"


async def new_conversation(
    client: httpx.AsyncClient, account: Account, title: str | None = None
) -> str:
    response = await client.post(CONVERSATIONS, json={"title": title}, headers=account.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def say(
    client: httpx.AsyncClient, account: Account, conversation_id: str, text: str
) -> httpx.Response:
    return await client.post(
        f"{CONVERSATIONS}/{conversation_id}/messages",
        json={"content": text},
        headers=account.headers,
    )


async def test_create_get_rename_delete(client: httpx.AsyncClient, alice: Account) -> None:
    conversation_id = await new_conversation(client, alice)
    url = f"{CONVERSATIONS}/{conversation_id}"

    fetched = await client.get(url, headers=alice.headers)
    assert fetched.json()["title"] is None

    renamed = await client.patch(url, json={"title": "Physics talk"}, headers=alice.headers)
    assert renamed.json()["title"] == "Physics talk"
    assert renamed.json()["updated_at"] > fetched.json()["updated_at"]

    scoped = await client.patch(url, json={"transcript_ids": None}, headers=alice.headers)
    assert scoped.json()["title"] == "Physics talk"  # a field left out is not changed
    untitled = await client.patch(url, json={"title": None}, headers=alice.headers)
    assert untitled.json()["title"] is None  # a field given null is: no title

    assert (await client.delete(url, headers=alice.headers)).status_code == 204
    assert_error(await client.get(url, headers=alice.headers), 404, "not_found")


async def test_list_is_paginated_with_a_total_and_newest_activity_first(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    ids = [await new_conversation(client, alice, f"c{i}") for i in range(3)]
    await new_conversation(client, bob, "bob's")

    assert (await say(client, alice, ids[0], "bump")).status_code == 201

    page = (await client.get(CONVERSATIONS, params={"limit": 2}, headers=alice.headers)).json()
    assert page["total"] == 3
    assert page["limit"] == 2
    assert page["offset"] == 0
    assert page["items"][0]["id"] == ids[0]
    rest = (await client.get(CONVERSATIONS, params={"offset": 2}, headers=alice.headers)).json()
    assert len(rest["items"]) == 1


async def test_messages_are_listed_oldest_first(client: httpx.AsyncClient, alice: Account) -> None:
    conversation_id = await new_conversation(client, alice)
    for i in range(3):
        created = await say(client, alice, conversation_id, f"message {i}")
        assert created.json()["user_message"]["role"] == "user"
        assert created.json()["user_message"]["metadata"] == {}
        assert created.json()["assistant_message"]["role"] == "assistant"

    url = f"{CONVERSATIONS}/{conversation_id}/messages"
    page = (await client.get(url, params={"limit": 3}, headers=alice.headers)).json()

    roles = [(m["role"], m["content"]) for m in page["items"]]
    assert roles[0] == ("user", "message 0")
    assert roles[1][0] == "assistant"
    assert roles[2] == ("user", "message 1")
    assert page["total"] == 6


async def test_listed_items_read_exactly_as_the_single_answers_do(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """The lists are written from plain rows, the single answers by pydantic: same JSON."""
    conversation_id = await new_conversation(client, alice, "Same shape")
    exchange = (await say(client, alice, conversation_id, "What is said about rockets?")).json()
    single = (await client.get(f"{CONVERSATIONS}/{conversation_id}", headers=alice.headers)).json()

    listed = (await client.get(CONVERSATIONS, headers=alice.headers)).json()["items"]
    url = f"{CONVERSATIONS}/{conversation_id}/messages"
    messages = (await client.get(url, headers=alice.headers)).json()["items"]

    assert listed == [single]
    assert messages == [exchange["user_message"], exchange["assistant_message"]]
    assert exchange["assistant_message"]["metadata"]  # grounded or not, it says so


async def test_message_length_limit_comes_from_settings(make_client: ClientFactory) -> None:
    from tests.api.conftest import sign_up

    async with make_client(message_max_chars=10) as client:
        account = await sign_up(client)
        conversation_id = await new_conversation(client, account)
        assert (await say(client, account, conversation_id, "x" * 10)).status_code == 201
        error = assert_error(
            await say(client, account, conversation_id, "x" * 11), 422, "validation_error"
        )
        assert error["details"][0]["field"] == "body.content"


@pytest.mark.slow
async def test_default_message_limit_is_2000_characters(
    client: httpx.AsyncClient, alice: Account
) -> None:
    conversation_id = await new_conversation(client, alice)
    assert (await say(client, alice, conversation_id, "y" * 2000)).status_code == 201
    assert_error(await say(client, alice, conversation_id, "y" * 2001), 422, "validation_error")
    assert_error(await say(client, alice, conversation_id, ""), 422, "validation_error")


@pytest.mark.parametrize(
    ("method", "suffix", "payload"),
    [
        ("GET", "", None),
        ("PATCH", "", {"title": "mine now"}),
        ("DELETE", "", None),
        ("GET", "/messages", None),
        ("POST", "/messages", {"content": "hello"}),
    ],
)
async def test_another_users_conversation_answers_404_like_a_missing_one(
    client: httpx.AsyncClient,
    alice: Account,
    bob: Account,
    method: str,
    suffix: str,
    payload: dict[str, str] | None,
) -> None:
    conversation_id = await new_conversation(client, alice, "private")

    foreign = await client.request(
        method, f"{CONVERSATIONS}/{conversation_id}{suffix}", json=payload, headers=bob.headers
    )
    missing = await client.request(
        method, f"{CONVERSATIONS}/{uuid.uuid4()}{suffix}", json=payload, headers=bob.headers
    )

    assert_error(foreign, 404, "not_found")
    assert_error(missing, 404, "not_found")
    still_there = await client.get(f"{CONVERSATIONS}/{conversation_id}", headers=alice.headers)
    assert still_there.json()["title"] == "private"


async def test_bad_pages_are_422_and_an_id_that_is_not_a_uuid_is_404(
    client: httpx.AsyncClient, alice: Account
) -> None:
    assert_error(
        await client.get(f"{CONVERSATIONS}/not-a-uuid", headers=alice.headers),
        404,
        "not_found",
    )
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}):
        response = await client.get(CONVERSATIONS, params=params, headers=alice.headers)
        assert_error(response, 422, "validation_error")
    too_long = await client.post(CONVERSATIONS, json={"title": "t" * 501}, headers=alice.headers)
    assert_error(too_long, 422, "validation_error")
    assert_error(await client.get(CONVERSATIONS), 401, "unauthorized")


async def test_a_scope_naming_a_video_twice_is_stored_once(
    client: httpx.AsyncClient, alice: Account
) -> None:
    transcript = await client.post(
        "/api/v1/transcripts",
        json={"video": "Twice000001", "transcript_text": "Words of the talk."},
        headers=alice.headers,
    )
    twice = [transcript.json()["id"]] * 2

    created = await client.post(
        "/api/v1/conversations", json={"transcript_ids": twice}, headers=alice.headers
    )

    assert created.status_code == 201, created.text
    assert created.json()["transcript_ids"] == twice[:1]
