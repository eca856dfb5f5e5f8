"""Set-up through the real API: accounts signed in, conversations created, answers checked."""

import secrets
import uuid
from collections.abc import Awaitable
from typing import Any

import httpx

API = "/api/v1"  # app.main.API_PREFIX, without building the app here


async def expect(request: Awaitable[httpx.Response], status_code: int) -> Any:
    """The JSON of a set-up request's answer; a clear error when its status is another."""
    response = await request
    if response.status_code != status_code:
        raise RuntimeError(
            f"setup: {response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {status_code}: {response.text[:500]}"
        )
    return response.json()


def new_account(name: str = "bench") -> dict[str, str]:
    email = f"{name}-{uuid.uuid4().hex[:12]}@example.com"
    return {"email": email, "password": secrets.token_urlsafe(16)}


async def register(client: httpx.AsyncClient, account: dict[str, str]) -> None:
    await expect(client.post(f"{API}/auth/register", json=account), 202)


async def sign_in(client: httpx.AsyncClient, name: str = "bench") -> dict[str, str]:
    """A new account, registered and logged in: its bearer header."""
    account = new_account(name)
    await register(client, account)
    login = await expect(client.post(f"{API}/auth/login", json=account), 200)
    return {"Authorization": f"Bearer {login['access_token']}"}


async def new_conversation(client: httpx.AsyncClient, title: str | None = None) -> str:
    body = {} if title is None else {"title": title}
    return str((await expect(client.post(f"{API}/conversations", json=body), 201))["id"])


async def conversations(
    client: httpx.AsyncClient, count: int, long_questions: int
) -> tuple[list[str], str]:
    """`count` conversations, then a long one of `long_questions` questions asked one after
    another (created_at, the page's order, follows their number), each answered, cheaply, that
    the videos do not cover it."""
    ids = [await new_conversation(client, f"Conversation {n}") for n in range(count)]
    long_id = await new_conversation(client, "The long one")
    for n in range(long_questions):
        path = f"{API}/conversations/{long_id}/messages"
        await expect(client.post(path, json={"content": f"Message {n}"}), 201)
    return ids, long_id
