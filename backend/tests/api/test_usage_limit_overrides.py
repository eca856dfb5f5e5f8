"""Administrators' overrides of one user's limits: set, read back, applied to that user alone
and removed; only administrators set them, users read only their own, and an unknown user or a
bad limit is refused."""

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories import UserRepository
from tests.api.conftest import Account, assert_error, sign_up
from tests.api.limited_requests import ask, assert_refused_by, limits_of, new_conversation


@pytest.fixture
async def admin(client: httpx.AsyncClient, session: AsyncSession) -> Account:
    account = await sign_up(client)
    await UserRepository(session).set_admin(account.email)
    await session.commit()  # as the grant-admin command does
    return account


def limits_path(user_id: str) -> str:
    return f"/api/v1/users/{user_id}/limits"


async def test_an_administrator_overrides_one_users_limits(
    client: httpx.AsyncClient, admin: Account, alice: Account, bob: Account
) -> None:
    override = {"asks_per_minute": 1, "tokens_per_day": 0}
    put = await client.put(limits_path(alice.id), json=override, headers=admin.headers)
    fetched = await client.get(limits_path(alice.id), headers=admin.headers)
    alices, bobs = await limits_of(client, alice), await limits_of(client, bob)
    conversation = await new_conversation(client, alice)
    allowed = await ask(client, alice, conversation)
    refused = await ask(client, alice, conversation)

    assert put.status_code == 200, put.text
    report = put.json()
    assert report["override"] == {
        "asks_per_minute": 1,
        "drafts_per_minute": None,
        "ingests_per_hour": None,
        "tokens_per_day": 0,
        "searches_per_minute": None,
        "webhook_tests_per_hour": None,
        "stored_words": None,
    }
    assert report["effective"] == {
        "asks_per_minute": 1,
        "drafts_per_minute": 10,
        "ingests_per_hour": 60,
        "tokens_per_day": 0,
        "searches_per_minute": 60,
        "webhook_tests_per_hour": 10,
        "stored_words": 5_000_000,
    }
    assert fetched.json() == report
    assert alices["asks_per_minute"]["limit"] == 1
    assert (alices["tokens_per_day"]["limit"], alices["tokens_per_day"]["remaining"]) == (0, None)
    assert bobs["asks_per_minute"]["limit"] == 20  # the default, for everyone else
    assert allowed.status_code == 201
    assert_refused_by(refused, "asks per minute: 1", 60)

    removed = await client.delete(limits_path(alice.id), headers=admin.headers)
    assert removed.status_code == 204
    assert (await limits_of(client, alice))["asks_per_minute"]["limit"] == 20
    fetched = await client.get(limits_path(alice.id), headers=admin.headers)
    assert fetched.json()["override"] is None


async def test_only_administrators_set_limits_and_users_read_only_their_own(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    own = await client.get(limits_path(alice.id), headers=alice.headers)
    assert own.status_code == 200, own.text
    assert own.json()["override"] is None
    assert own.json()["effective"]["asks_per_minute"] == 20
    assert_error(await client.get(limits_path(alice.id), headers=bob.headers), 404, "not_found")
    for account in (alice, bob):
        path = limits_path(alice.id)
        put = await client.put(path, json={"asks_per_minute": 0}, headers=account.headers)
        assert_error(put, 403, "forbidden")
        assert_error(await client.delete(path, headers=account.headers), 403, "forbidden")
    assert_error(await client.get(limits_path(alice.id)), 401, "unauthorized")


async def test_an_unknown_user_is_404_and_bad_limits_are_422(
    client: httpx.AsyncClient, admin: Account
) -> None:
    unknown = limits_path(str(uuid.uuid4()))
    assert_error(await client.get(unknown, headers=admin.headers), 404, "not_found")
    put = await client.put(unknown, json={"asks_per_minute": 3}, headers=admin.headers)
    assert_error(put, 404, "not_found")
    assert_error(await client.delete(unknown, headers=admin.headers), 404, "not_found")
    assert_error(
        await client.get(limits_path("not-a-uuid"), headers=admin.headers), 404, "not_found"
    )

    for body, field in [
        ({"asks_per_minute": -1}, "body.asks_per_minute"),
        ({"ingests_per_hour": 1_000_001}, "body.ingests_per_hour"),
        ({"tokens_per_day": 10**12 + 1}, "body.tokens_per_day"),
        ({"asks_per_minute": True}, "body.asks_per_minute"),  # not the limit 1
        ({"asks_per_minute": "7"}, "body.asks_per_minute"),
    ]:
        refused = await client.put(limits_path(admin.id), json=body, headers=admin.headers)
        error = assert_error(refused, 422, "validation_error")
        assert error["details"][0]["field"] == field


async def test_a_misspelt_limit_is_refused_and_the_override_kept(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    """A typo must not be read as "every limit back to the default" (the fields left out)."""
    await client.put(limits_path(alice.id), json={"asks_per_minute": 5}, headers=admin.headers)

    typo = {"asks_per_minut": 60}
    refused = await client.put(limits_path(alice.id), json=typo, headers=admin.headers)
    kept = await client.get(limits_path(alice.id), headers=admin.headers)

    error = assert_error(refused, 422, "validation_error")
    assert [(d["field"], d["type"]) for d in error["details"]] == [
        ("body.asks_per_minut", "extra_forbidden")
    ]
    assert kept.json()["override"]["asks_per_minute"] == 5
