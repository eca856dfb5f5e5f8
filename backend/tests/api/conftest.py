"""An HTTP client on the ASGI app, its unit of work joined to the test's rolled-back session.

Building the app takes tens of milliseconds, and its first request more (FastAPI prepares the
middleware stack and each route on first use): the `client` and `make_client` fixtures lend one
app per test process and settings combination instead, joined to the test's session by
dependency overrides that are removed when the test ends. A test that changes an app (adds a
route, swaps its language model) builds its own with build_app(); a shared app found changed
after a test fails that test.
"""

import ipaddress
import random
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import get_db, get_read_db, reads_factory, unit_of_work_factory
from app.core.config import get_settings
from app.db.repositories import UserRepository
from app.db.session import Database, committed
from app.main import create_app
from tests.offline_model import embedder_for

PASSWORD = "correct horse battery staple"
TEST_NETWORK = ipaddress.IPv4Network("198.18.0.0/15")

ClientFactory = Callable[..., httpx.AsyncClient]


def savepoint_unit_of_work(session: AsyncSession) -> Callable[[], AsyncIterator[AsyncSession]]:
    """The contract of get_db() on the test's session: commit on success, roll back on error.
    Here a commit releases a savepoint and a rollback returns to it; the test's transaction
    undoes everything at the end."""

    async def unit_of_work() -> AsyncIterator[AsyncSession]:
        async with committed(session):
            yield session

    return unit_of_work


def join_test_session(app: FastAPI, session: AsyncSession) -> None:
    """Make the app's units of work, and its reads, run on the test's session."""
    unit_of_work = savepoint_unit_of_work(session)
    app.dependency_overrides[get_db] = unit_of_work
    app.dependency_overrides[get_read_db] = unit_of_work
    app.dependency_overrides[unit_of_work_factory] = lambda: asynccontextmanager(unit_of_work)
    app.dependency_overrides[reads_factory] = lambda: asynccontextmanager(unit_of_work)
    # Overrides an earlier test stored were rolled back with it: forget them.
    app.state.runtime_settings.invalidate()


def new_app(**overrides: Any) -> FastAPI:
    """create_app() with changed settings; the offline embedding model is the process's one."""
    settings = get_settings().model_copy(update=overrides)
    app = create_app(settings)
    if app.state.embedder is not None:
        app.state.embedder = embedder_for(settings)
    return app


def build_app(session: AsyncSession, **overrides: Any) -> FastAPI:
    """An app of the test's own, on its session."""
    app = new_app(**overrides)
    join_test_session(app, session)
    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    """A client on the app from an address of its own (in 198.18.0.0/15, kept for tests):
    what is counted per address (sign-ups, logins) is then counted per test, even where a
    live server's tests committed counts for 127.0.0.1 in the same database."""
    address = str(TEST_NETWORK.network_address + random.randrange(TEST_NETWORK.num_addresses))
    transport = httpx.ASGITransport(app=app, client=(address, 50_000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


_shared_apps: dict[str, FastAPI] = {}


def shared_app(**overrides: Any) -> FastAPI:
    """The process's app for these settings, built on first use."""
    key = repr(sorted(overrides.items()))
    if key not in _shared_apps:
        _shared_apps[key] = new_app(**overrides)
    return _shared_apps[key]


@pytest.fixture(scope="session", autouse=True)
async def shared_apps_closed(database_url: str) -> AsyncIterator[None]:
    """The shared apps' connections (their readiness checks open some) are closed before the
    run's database is dropped."""
    yield
    for app in _shared_apps.values():
        await app.state.database.dispose()


def what_a_test_could_change(app: FastAPI) -> tuple[object, ...]:
    state = app.state
    return (
        len(app.router.routes),
        state.settings.model_dump(),
        id(state.settings),
        id(state.language_model),
        id(state.embedder),
        len(app.user_middleware),
        len(app.exception_handlers),
    )


@pytest.fixture
def lend_app(session: AsyncSession) -> Iterator[Callable[..., FastAPI]]:
    """lend_app(**overrides): the shared app for those settings, joined to this test's session
    until the test ends."""
    lent: dict[int, tuple[FastAPI, tuple[object, ...]]] = {}

    def lend(**overrides: Any) -> FastAPI:
        app = shared_app(**overrides)
        if id(app) not in lent:
            join_test_session(app, session)
            lent[id(app)] = (app, what_a_test_could_change(app))
        return app

    yield lend
    for app, _ in lent.values():
        app.dependency_overrides.clear()
    for app, before in lent.values():
        assert what_a_test_could_change(app) == before, (
            "the test changed a shared app: build its own with build_app()"
        )


@pytest.fixture
async def client(lend_app: Callable[..., FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(lend_app()) as client:
        yield client


@pytest.fixture
def make_client(lend_app: Callable[..., FastAPI]) -> ClientFactory:
    """A client on an app with changed settings: make_client(message_max_chars=5)."""

    def make(**overrides: Any) -> httpx.AsyncClient:
        return client_for(lend_app(**overrides))

    return make


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    """The OpenAPI document the app serves (test_openapi_document.py builds its own, once)."""
    schema: dict[str, Any] = (await client.get("/openapi.json")).json()
    return schema


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
    names, and the values a message quotes for them, are left out: they echo the caller's own
    keys and values, which may be any word."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    details = error["details"]
    messages = [str(error.get("message", ""))] + [str(d.get("message", "")) for d in details]
    for field in sorted((str(d["field"]) for d in details if d.get("field")), key=len)[::-1]:
        # "field=value" echoes what the caller sent, which may hold any characters ("$7").
        echoed = re.compile(re.escape(field) + r"=.*?(?=, [\w.]+=|$)")
        messages = [echoed.sub("", message).replace(field, "") for message in messages]
    return next((m for m in messages if DRIVER_WORDING.search(m)), None)


@asynccontextmanager
async def signed_up_on_the_database(
    database: Database, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Account]]:
    """A client of an app on the real database, each request its own transaction as in
    production (for requests sent at once), and an account signed up on it; afterwards the
    app's pools are closed and the account deleted."""
    app = new_app(**overrides)
    account: Account | None = None
    try:
        async with client_for(app) as client:
            account = await sign_up(client)
            yield client, account
    finally:
        await app.state.database.dispose()
        if account is not None:
            async with database.unit_of_work() as session:
                await UserRepository(session).delete(uuid.UUID(account.id))
