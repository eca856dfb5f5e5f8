"""API keys carry scopes and an optional expiry: a leaked read or write key cannot mint keys or
send the user's events elsewhere, and a key given a lifetime stops at its end."""

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey
from tests.api.conftest import Account, assert_error, client_for

KEYS = "/api/v1/api-keys"


async def new_key(client: httpx.AsyncClient, account: Account, **body: Any) -> dict[str, Any]:
    response = await client.post(KEYS, json={"name": "script", **body}, headers=account.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key']}"}


async def test_a_new_key_reads_and_writes_but_cannot_mint_keys_or_webhooks(
    client: httpx.AsyncClient, alice: Account
) -> None:
    key = await new_key(client, alice)

    conversation = await client.post("/api/v1/conversations", json={}, headers=bearer(key))
    listed = await client.get("/api/v1/conversations", headers=bearer(key))
    minted = await client.post(KEYS, json={"name": "more"}, headers=bearer(key))
    hooked = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://example.com/hook", "events": ["job.failed"]},
        headers=bearer(key),
    )

    assert key["scopes"] == ["read", "write"]
    assert conversation.status_code == 201
    assert listed.status_code == 200
    assert_error(minted, 403, "forbidden")
    assert "admin" in minted.json()["error"]["message"]
    assert_error(hooked, 403, "forbidden")


async def test_a_read_key_cannot_change_anything(client: httpx.AsyncClient, alice: Account) -> None:
    key = await new_key(client, alice, scopes=["read"])

    listed = await client.get("/api/v1/transcripts", headers=bearer(key))
    searched = await client.get("/api/v1/search", params={"q": "oven"}, headers=bearer(key))
    created = await client.post("/api/v1/conversations", json={}, headers=bearer(key))

    assert listed.status_code == 200
    assert searched.status_code == 200
    assert_error(created, 403, "forbidden")


async def test_an_admin_key_manages_keys(client: httpx.AsyncClient, alice: Account) -> None:
    key = await new_key(client, alice, scopes=["admin", "read", "admin"])

    minted = await client.post(
        KEYS, json={"name": "child", "scopes": ["read"]}, headers=bearer(key)
    )

    assert key["scopes"] == ["read", "admin"]
    assert minted.status_code == 201, minted.text


async def test_a_key_creates_keys_within_its_own_scopes_and_lifetime(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """A leaked admin key that expires must not leave behind a key that never does, or one
    that may do more than it could."""
    parent = await new_key(client, alice, scopes=["admin"], expires_in_days=1)
    admin = bearer(parent)

    wider = await client.post(KEYS, json={"name": "wider"}, headers=admin)
    forever = await client.post(KEYS, json={"name": "x", "scopes": ["admin"]}, headers=admin)
    later = await client.post(
        KEYS, json={"name": "x", "scopes": ["admin"], "expires_in_days": 2}, headers=admin
    )
    sooner = await client.post(
        KEYS, json={"name": "x", "scopes": ["admin"], "expires_in_days": 1}, headers=admin
    )
    by_the_account = await client.post(KEYS, json={"name": "x"}, headers=alice.headers)

    assert "read, write" in assert_error(wider, 403, "forbidden")["message"]
    for outliving in (forever, later):
        assert outliving.status_code == 201, outliving.text
        assert outliving.json()["expires_at"] == parent["expires_at"]
    assert sooner.status_code == 201, sooner.text
    assert sooner.json()["expires_at"] <= parent["expires_at"]
    assert by_the_account.json()["expires_at"] is None
    listed = (await client.get(KEYS, headers=alice.headers)).json()
    assert listed["total"] == 5  # the parent and four children: the wider one was not stored


async def test_a_key_stops_working_when_it_expires(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    key = await new_key(client, alice, expires_in_days=30)
    expires_at = datetime.fromisoformat(key["expires_at"])
    before = await client.get("/api/v1/auth/me", headers=bearer(key))
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key["id"])
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )

    after = await client.get("/api/v1/auth/me", headers=bearer(key))
    listed = await client.get(KEYS, headers=alice.headers)

    assert timedelta(days=29) < expires_at - datetime.now(UTC) <= timedelta(days=30)
    assert before.status_code == 200
    assert_error(after, 401, "unauthorized")
    assert listed.json()["items"][0]["last_used_at"] is not None


async def test_scopes_and_expiry_are_validated(client: httpx.AsyncClient, alice: Account) -> None:
    unknown = await client.post(KEYS, json={"name": "x", "scopes": ["root"]}, headers=alice.headers)
    empty = await client.post(KEYS, json={"name": "x", "scopes": []}, headers=alice.headers)
    forever = await client.post(
        KEYS, json={"name": "x", "expires_in_days": 0}, headers=alice.headers
    )

    for response, field in ((unknown, "body.scopes.0"), (empty, "body.scopes")):
        error = assert_error(response, 422, "validation_error")
        assert error["details"][0]["field"] == field
    error = assert_error(forever, 422, "validation_error")
    assert error["details"][0]["field"] == "body.expires_in_days"


def concrete_path(template: str) -> str:
    """The documented path with a made-up value in each parameter."""
    path = template.replace("{key}", "chat_context_chunks")
    return re.sub(r"\{[a-z_]+\}", lambda _: str(uuid.uuid4()), path)


async def test_every_route_that_changes_something_refuses_a_read_key(
    lend_app: Callable[..., FastAPI], alice: Account
) -> None:
    """Walks the whole documented API, so that a route added later is covered by its tag and
    method."""
    app = lend_app()
    async with client_for(app) as client:
        key = await new_key(client, alice, scopes=["read"])
        allowed: list[tuple[str, str]] = []
        refused: list[tuple[str, str]] = []
        for template, operations in app.openapi()["paths"].items():
            for method in set(operations) - {"get", "head"}:
                response = await client.request(
                    method, concrete_path(template), headers=bearer(key), json={}
                )
                outcome = refused if response.status_code == 403 else allowed
                outcome.append((method, template))

    assert sorted(allowed) == [
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/register"),
        ("post", "/api/v1/templates/{template_id}/render"),
    ]
    assert len(refused) > 20


async def test_a_lifetime_must_be_a_number_of_days(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """`true` is not one day, nor "30" thirty: a body's numbers and switches are JSON's own."""
    for days in (True, "30", 2.5):
        body = {"name": "k", "expires_in_days": days}
        refused = await client.post("/api/v1/api-keys", json=body, headers=alice.headers)
        error = assert_error(refused, 422, "validation_error")
        assert error["details"][0]["field"] == "body.expires_in_days"


async def test_an_admin_key_lists_what_it_manages_and_nothing_else(
    client: httpx.AsyncClient, alice: Account
) -> None:
    key = await new_key(client, alice, scopes=["admin"])

    managed = [
        await client.get(path, headers=bearer(key))
        for path in (KEYS, "/api/v1/webhooks", f"/api/v1/users/{alice.id}/limits")
    ]
    conversations = await client.get("/api/v1/conversations", headers=bearer(key))

    assert [response.status_code for response in managed] == [200, 200, 200]
    error = assert_error(conversations, 403, "forbidden")
    assert error["message"].endswith("it needs read.")
