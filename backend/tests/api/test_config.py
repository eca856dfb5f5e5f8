import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories import UserRepository
from tests.api.conftest import Account, assert_error

CONFIG = "/api/v1/config"


@pytest.fixture
async def admin(alice: Account, session: AsyncSession) -> Account:
    await UserRepository(session).set_admin(alice.email)
    await session.commit()  # as the grant-admin command does
    return alice


async def test_administrators_manage_config(client: httpx.AsyncClient, admin: Account) -> None:
    value = {"model": "gpt-4o-mini", "temperature": 0.2, "stop": ["\n\n"], "note": "ünï"}

    put = await client.put(
        f"{CONFIG}/llm.defaults", json={"value": value, "description": "LLM"}, headers=admin.headers
    )
    assert put.status_code == 200
    assert put.json()["value"] == value

    replaced = await client.put(f"{CONFIG}/llm.defaults", json={"value": 3}, headers=admin.headers)
    assert replaced.json()["value"] == 3
    assert replaced.json()["description"] == "LLM"

    fetched = await client.get(f"{CONFIG}/llm.defaults", headers=admin.headers)
    assert fetched.json()["value"] == 3
    listing = (await client.get(CONFIG, headers=admin.headers)).json()
    assert [entry["key"] for entry in listing["items"]] == ["llm.defaults"]

    assert (await client.delete(f"{CONFIG}/llm.defaults", headers=admin.headers)).status_code == 204
    assert_error(
        await client.get(f"{CONFIG}/llm.defaults", headers=admin.headers), 404, "not_found"
    )
    assert_error(
        await client.delete(f"{CONFIG}/llm.defaults", headers=admin.headers), 404, "not_found"
    )


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("GET", CONFIG, None),
        ("GET", f"{CONFIG}/some.key", None),
        ("PUT", f"{CONFIG}/some.key", {"value": 1}),
        ("DELETE", f"{CONFIG}/some.key", None),
    ],
)
async def test_ordinary_users_are_forbidden(
    client: httpx.AsyncClient, bob: Account, method: str, path: str, payload: dict[str, int] | None
) -> None:
    response = await client.request(method, path, json=payload, headers=bob.headers)
    assert_error(response, 403, "forbidden")
    assert_error(await client.request(method, path, json=payload), 401, "unauthorized")


async def test_bad_keys_and_bodies_are_422(client: httpx.AsyncClient, admin: Account) -> None:
    assert_error(
        await client.put(f"{CONFIG}/bad key!", json={"value": 1}, headers=admin.headers),
        422,
        "validation_error",
    )
    assert_error(
        await client.put(f"{CONFIG}/{'k' * 101}", json={"value": 1}, headers=admin.headers),
        422,
        "validation_error",
    )
    assert_error(
        await client.put(f"{CONFIG}/ok", json={}, headers=admin.headers), 422, "validation_error"
    )
