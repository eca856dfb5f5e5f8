import uuid

import httpx

from tests.api.conftest import Account, assert_error

KEYS = "/api/v1/api-keys"


async def create_key(client: httpx.AsyncClient, account: Account, name: str = "script") -> dict:  # type: ignore[type-arg]
    response = await client.post(KEYS, json={"name": name}, headers=account.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_key_is_shown_once_and_works_like_a_session(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await create_key(client, alice)
    secret = created["key"]
    assert secret.startswith("ytk_")
    assert secret.startswith(created["key_prefix"])

    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["email"] == alice.email

    listed = await client.get(KEYS, headers=alice.headers)
    assert listed.json()["total"] == 1
    item = listed.json()["items"][0]
    assert item["key_prefix"] == created["key_prefix"]
    assert "key" not in item
    assert secret not in listed.text
    assert item["last_used_at"] is not None


async def test_a_revoked_key_stops_working(client: httpx.AsyncClient, alice: Account) -> None:
    created = await create_key(client, alice)
    key_headers = {"Authorization": f"Bearer {created['key']}"}

    revoke = await client.delete(f"{KEYS}/{created['id']}", headers=alice.headers)

    assert revoke.status_code == 204
    assert_error(await client.get("/api/v1/auth/me", headers=key_headers), 401, "unauthorized")
    listed = (await client.get(KEYS, headers=alice.headers)).json()["items"]
    assert listed[0]["revoked_at"] is not None
    # Revoking it again answers as the first time did, and it stays revoked when it was.
    second = await client.delete(f"{KEYS}/{created['id']}", headers=alice.headers)
    assert second.status_code == 204
    again = (await client.get(KEYS, headers=alice.headers)).json()["items"]
    assert again[0]["revoked_at"] == listed[0]["revoked_at"]


async def test_a_key_cannot_log_out(client: httpx.AsyncClient, alice: Account) -> None:
    created = await create_key(client, alice)
    response = await client.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {created['key']}"}
    )
    error = assert_error(response, 403, "forbidden")  # as every act needing a session token
    assert "DELETE /api-keys/{id}" in error["message"]


async def test_another_users_key_is_not_found(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    created = await create_key(client, alice)

    response = await client.delete(f"{KEYS}/{created['id']}", headers=bob.headers)

    assert_error(response, 404, "not_found")
    assert (await client.get(KEYS, headers=bob.headers)).json()["total"] == 0
    missing = await client.delete(f"{KEYS}/{uuid.uuid4()}", headers=alice.headers)
    assert_error(missing, 404, "not_found")


async def test_key_input_is_validated(client: httpx.AsyncClient, alice: Account) -> None:
    for payload in ({}, {"name": ""}, {"name": "x" * 101}):
        response = await client.post(KEYS, json=payload, headers=alice.headers)
        assert_error(response, 422, "validation_error")
    assert_error(await client.post(KEYS, json={"name": "x"}), 401, "unauthorized")
