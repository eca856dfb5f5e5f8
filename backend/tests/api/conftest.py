"""An HTTP client on the ASGI app, its unit of work joined to the test's rolled-back session."""

import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import unit_of_work_factory
from app.core.config import get_settings
from app.db.session import get_db, get_read_db
from app.main import create_app

PASSWORD = "correct horse battery staple"

ClientFactory = Callable[..., httpx.AsyncClient]


def savepoint_unit_of_work(session: AsyncSession) -> Callable[[], AsyncIterator[AsyncSession]]:
    """The contract of get_db() on the test's session: commit on success, roll back on error.
    Here a commit releases a savepoint and a rollback returns to it; the test's transaction
    undoes everything at the end."""

    async def unit_of_work() -> AsyncIterator[AsyncSession]:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise

    return unit_of_work


def join_test_session(app: FastAPI, session: AsyncSession) -> None:
    """Make the app's units of work, and its reads, run on the test's session."""
    unit_of_work = savepoint_unit_of_work(session)
    app.dependency_overrides[get_db] = unit_of_work
    app.dependency_overrides[get_read_db] = unit_of_work
    app.dependency_overrides[unit_of_work_factory] = lambda: asynccontextmanager(unit_of_work)


def build_app(session: AsyncSession, **overrides: Any) -> FastAPI:
    settings = get_settings().model_copy(update=overrides)
    app = create_app(settings)
    join_test_session(app, session)
    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client(session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(build_app(session)) as client:
        yield client


@pytest.fixture
def make_client(session: AsyncSession) -> ClientFactory:
    """A client on an app built with changed settings: make_client(message_max_chars=5)."""

    def make(**overrides: Any) -> httpx.AsyncClient:
        return client_for(build_app(session, **overrides))

    return make


@dataclass
class Account:
    email: str
    headers: dict[str, str]
    id: str


async def sign_up(client: httpx.AsyncClient, email: str | None = None) -> Account:
    email = email or f"person-{uuid.uuid4().hex[:10]}@example.com"
    registered = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert registered.status_code == 202, registered.text
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = await client.get("/api/v1/auth/me", headers=headers)
    return Account(email=email, headers=headers, id=me.json()["id"])


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Account:
    return await sign_up(client)


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> Account:
    return await sign_up(client)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is in the one error shape with this status and code; returns the error."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    return error


# What PostgreSQL, asyncpg or SQLAlchemy would say, and an API message never should.
DRIVER_WORDING = re.compile(
    r"asyncpg|sqlalchemy|postgres|psycopg|\bSQL\b|violates|constraint|relation \"|\btable\b"
    r"|int64|query argument|\$\d|Key \(|invalid input|byte sequence|escape sequence|DETAIL:",
    re.IGNORECASE,
)


def driver_wording_in(body: Any) -> str | None:
    """The first error message (or detail message) of `body` in the database's words. Field
    names are left out: they echo the caller's own keys, which may be any word."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    details = error["details"]
    messages = [str(error.get("message", ""))] + [str(d.get("message", "")) for d in details]
    for field in sorted((str(d["field"]) for d in details if d.get("field")), key=len)[::-1]:
        messages = [message.replace(field, "") for message in messages]
    return next((m for m in messages if DRIVER_WORDING.search(m)), None)
