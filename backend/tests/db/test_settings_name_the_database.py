"""The app, a command and the worker each work on the database their settings name, not on the
one the environment names (the run's database, where get_settings() points)."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app import cli, worker
from app.core.config import get_settings
from app.db.embedded import resolve_database
from app.db.migrations import run_alembic
from app.db.models import Job
from app.db.repositories import JobRepository, TranscriptRepository, UserRepository
from app.db.session import Database
from app.main import create_app
from app.services.youtube.fetcher import YouTubeFetcher
from testkit.database import TEST_SERVER_DIR, create_database, drop_database
from testkit.youtube_replay import replay_session
from testkit.youtube_video_artefacts import ReplayVideo
from tests.factories import make_user

PASSWORD = "correct horse battery staple"
VIDEO = ReplayVideo(
    video_id="Elsewhere01",
    title="A talk stored elsewhere",
    channel_name="Backend Talks",
    captions=[(i * 3.0, 3.0, f"Sentence {i} says where rows land.") for i in range(40)],
)


@pytest.fixture(scope="module")
async def other(server_url: str, database_url: str) -> AsyncIterator[Database]:
    """A second throw-away database, migrated; the environment still names the run's one."""
    url = await create_database(server_url, prefix="ytt_other")
    try:
        await run_alembic(url)
        other = Database(get_settings().with_database_url(url))
        yield other
        await other.dispose()
    finally:
        await drop_database(url)


async def user_in(database: Database, email: str) -> bool:
    async with database.read_only() as session:
        return await UserRepository(session).get_by_email(email) is not None


@pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")), reason="the tests' server is not the embedded one"
)
def test_the_embedded_servers_url_comes_back_in_the_settings(server_url: str) -> None:
    """Not through the environment: nothing but the caller learns of it."""
    unset = get_settings().model_copy(
        update={"database_url": None, "embedded_pg_dir": TEST_SERVER_DIR}
    )
    before = dict(os.environ)

    resolved = resolve_database(unset)  # the tests' embedded server, already running

    assert resolved.require_database_url() == server_url
    assert resolved.model_copy(update={"database_url": None}) == unset
    assert dict(os.environ) == before


async def test_the_app_works_on_the_database_of_its_settings(
    database: Database, other: Database
) -> None:
    app = create_app(other.settings)
    email = f"elsewhere-{uuid.uuid4().hex[:8]}@example.com"
    account = {"email": email, "password": PASSWORD}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        registered = await client.post("/api/v1/auth/register", json=account)
        login = await client.post("/api/v1/auth/login", json=account)
        token = login.json()["access_token"]
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    await app.state.database.dispose()

    assert (registered.status_code, login.status_code, me.status_code) == (202, 200, 200)
    assert me.json()["email"] == email  # read back through the app's read-only engine
    assert await user_in(other, email)
    assert not await user_in(database, email)


async def test_a_command_works_on_the_database_of_its_settings(other: Database) -> None:
    email = f"boss-{uuid.uuid4().hex[:8]}@example.com"
    async with other.unit_of_work() as session:
        await make_user(session, email)

    # In a thread: the command runs its own event loop, as it does from a shell.
    granted = await asyncio.to_thread(
        CliRunner().invoke, cli.cli, ["grant-admin", email], obj=other.settings
    )

    assert (granted.exit_code, granted.output.strip()) == (0, f"{email} is now an administrator")
    async with other.unit_of_work() as session:
        user = await UserRepository(session).get_by_email(email)
        assert user is not None
        assert user.is_admin


@pytest.mark.slow
async def test_the_worker_works_on_the_database_of_its_settings(
    other: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "YouTubeFetcher", replayed_fetcher)
    async with other.unit_of_work() as session:
        user = await make_user(session)
        job, _ = await JobRepository(session).enqueue_ingest(
            user_id=user.id, video_id=VIDEO.video_id, languages=["en"], max_attempts=1
        )
    settings = other.settings.model_copy(
        update={"embeddings_enabled": False, "job_workers": 1, "job_poll_seconds": 0.05}
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(settings, stop))
    try:
        status = await status_when_settled(other, job.id)
    finally:
        stop.set()
        await running

    assert status == "done"
    async with other.unit_of_work() as session:
        stored = await TranscriptRepository(session).get_by_video_id(user.id, VIDEO.video_id)
    assert stored is not None
    assert stored.title == VIDEO.title


def replayed_fetcher() -> YouTubeFetcher:
    return YouTubeFetcher(http=replay_session(VIDEO)[0])


async def status_when_settled(database: Database, job_id: uuid.UUID) -> str:
    """The job's status once it is neither queued nor running (waiting up to 60 s: a busy
    machine may take a while to start the worker's pool process)."""
    status = "queued"
    for _ in range(600):
        async with database.read_only() as session:
            status = await session.scalar(select(Job.status).where(Job.id == job_id)) or status
        if status not in ("queued", "running"):
            break
        await asyncio.sleep(0.1)
    return status
