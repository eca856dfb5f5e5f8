"""Questions and searches scoped to chosen videos or collections cite only those."""

from typing import Any

import httpx
import pytest

from tests.api.conftest import Account, assert_error

BREAD = (
    "To bake sourdough bread, heat the oven to 250 degrees. The loaf bakes for forty minutes "
    "in a covered pot, then ten minutes more without the lid so the crust turns dark. "
) * 3
ROCKETS = (
    "A rocket engine burns kerosene with liquid oxygen. The booster lands on a barge after "
    "separation, and the upper stage carries the capsule to orbit in about nine minutes. "
) * 3


async def store(client: httpx.AsyncClient, account: Account, video: str, text: str) -> str:
    response = await client.post(
        "/api/v1/transcripts",
        json={"video": video, "transcript_text": text, "title": video},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def ask(
    client: httpx.AsyncClient, account: Account, conversation: dict[str, Any], question: str
) -> set[str]:
    """The transcripts the answer cites."""
    response = await client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"content": question},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    citations = response.json()["assistant_message"]["metadata"].get("citations", [])
    return {citation["transcript_id"] for citation in citations}


async def conversation(client: httpx.AsyncClient, account: Account, **scope: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/conversations", json=scope, headers=account.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.mark.slow
async def test_a_conversation_scoped_to_a_collection_cites_only_its_videos(
    client: httpx.AsyncClient, alice: Account
) -> None:
    bread = await store(client, alice, "BreadVideo1", BREAD)
    rockets = await store(client, alice, "RocketVide1", ROCKETS)
    course = (
        await client.post(
            "/api/v1/collections", json={"videos": ["RocketVide1"]}, headers=alice.headers
        )
    ).json()
    scoped = await conversation(client, alice, collection_ids=[course["id"]])
    whole = await conversation(client, alice)

    assert scoped["collection_ids"] == [course["id"]]
    assert await ask(client, alice, scoped, "How hot should the oven be for sourdough?") == set()
    assert await ask(client, alice, scoped, "Where does the booster land?") == {rockets}
    assert await ask(client, alice, whole, "How hot should the oven be for sourdough?") == {bread}


async def test_a_scope_is_changed_and_lifted_and_a_question_narrows_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    bread = await store(client, alice, "BreadVideo1", BREAD)
    rockets = await store(client, alice, "RocketVide1", ROCKETS)
    talk = await conversation(client, alice, transcript_ids=[rockets])
    oven = "How hot should the oven be for sourdough?"

    before = await ask(client, alice, talk, oven)
    changed = await client.patch(
        f"/api/v1/conversations/{talk['id']}",
        json={"transcript_ids": None, "title": "Anything"},
        headers=alice.headers,
    )
    after = await ask(client, alice, talk, oven)
    listed = await client.get("/api/v1/conversations", headers=alice.headers)

    assert before == set()
    assert changed.json()["transcript_ids"] is None
    assert changed.json()["title"] == "Anything"
    assert after == {bread}
    assert listed.json()["items"][0]["transcript_ids"] is None


async def test_a_search_scoped_to_a_collection_finds_only_its_videos(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await store(client, alice, "BreadVideo1", BREAD)
    rockets = await store(client, alice, "RocketVide1", ROCKETS)
    course = (
        await client.post(
            "/api/v1/collections", json={"videos": ["RocketVide1"]}, headers=alice.headers
        )
    ).json()

    everywhere = await client.get(
        "/api/v1/search", params={"q": "oven rocket"}, headers=alice.headers
    )
    scoped = await client.get(
        "/api/v1/search",
        params={"q": "oven rocket", "collection_ids": course["id"]},
        headers=alice.headers,
    )

    assert len({hit["transcript_id"] for hit in everywhere.json()["hits"]}) == 2
    assert {hit["transcript_id"] for hit in scoped.json()["hits"]} == {rockets}


async def test_another_users_videos_cannot_be_in_a_scope(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    bread = await store(client, alice, "BreadVideo1", BREAD)
    course = (
        await client.post(
            "/api/v1/collections", json={"videos": ["BreadVideo1"]}, headers=alice.headers
        )
    ).json()

    by_transcript = await client.post(
        "/api/v1/conversations", json={"transcript_ids": [bread]}, headers=bob.headers
    )
    by_collection = await client.post(
        "/api/v1/conversations", json={"collection_ids": [course["id"]]}, headers=bob.headers
    )

    assert_error(by_transcript, 404, "not_found")
    assert_error(by_collection, 404, "not_found")


async def test_a_draft_saved_into_a_scoped_conversation_cites_only_its_scope(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """What the conversation's answers may not cite, a draft saved into it may not either."""
    await store(client, alice, "BreadVideo1", BREAD)
    rockets = await store(client, alice, "RocketVide1", ROCKETS)
    talk = await conversation(client, alice, transcript_ids=[rockets])
    body = {"template_type": "blog", "topic": "baking sourdough bread in the oven"}

    into_the_scope = await client.post(
        "/api/v1/drafts", json={**body, "conversation_id": talk["id"]}, headers=alice.headers
    )
    anywhere = await client.post("/api/v1/drafts", json=body, headers=alice.headers)

    assert_error(into_the_scope, 422, "no_sources")  # the bread talk is outside its scope
    assert anywhere.status_code == 200, anywhere.text


async def test_an_empty_scope_is_refused_rather_than_declining_every_question(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for field in ("transcript_ids", "collection_ids"):
        refused = await client.post(
            "/api/v1/conversations", json={field: []}, headers=alice.headers
        )
        error = assert_error(refused, 422, "validation_error")
        assert error["details"][0]["field"] == f"body.{field}"


async def test_a_question_about_a_video_outside_the_scope_is_refused_not_declined(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Narrowed to nothing, it would be declined as if the videos said nothing of it."""
    bread = await store(client, alice, "BreadVideo1", BREAD)
    rockets = await store(client, alice, "RocketVide1", ROCKETS)
    talk = await conversation(client, alice, transcript_ids=[rockets])
    messages = f"/api/v1/conversations/{talk['id']}/messages"
    oven = "How hot should the oven be for sourdough?"

    outside = await client.post(
        messages, json={"content": oven, "transcript_ids": [bread]}, headers=alice.headers
    )
    inside = await client.post(
        messages,
        json={"content": "Where does the booster land?", "transcript_ids": [rockets]},
        headers=alice.headers,
    )

    error = assert_error(outside, 422, "validation_error")
    assert [detail["field"] for detail in error["details"]] == ["body.transcript_ids"]
    assert inside.status_code == 201, inside.text
