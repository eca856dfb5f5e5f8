"""A video still being prepared: the page says so, keeps the question to be asked again, and
answers it once the video is ready.

The app is served as beside a worker of its own (`make worker`, with JOBS_ENABLED=false for the
server): until the worker starts, an upload's embed job waits, as it does for a few seconds
under `make run`, and a question in other words than the talk's finds nothing by its words.
"""

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import BACKEND_DIR
from tests.browser.conftest import a_database, screenshot, server_environment, serving_on, stop
from tests.browser.test_page import new_email, sign_up, upload_captions
from tests.service.conftest import free_port

pytestmark = pytest.mark.slow

# In other words, and another language, than the captions' "Preheat the oven to 250 degrees".
QUESTION = "¿A qué temperatura hay que calentar el horno?"
WORKER_SECONDS = 60


@pytest.fixture(scope="module")
async def served_database(server_url: str) -> AsyncIterator[str]:
    async with a_database(server_url) as database_url:
        yield database_url


@pytest.fixture(scope="module")
async def live_server(
    served_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The app without workers of its own: jobs wait for `python -m app.worker`."""
    log_dir = tmp_path_factory.mktemp("server")
    async with serving_on(served_database, log_dir, JOBS_ENABLED="false") as base_url:
        yield base_url


async def run_the_worker_until_no_job_waits(database_url: str, log_path: Path) -> None:
    """`python -m app.worker` on the app's database, stopped once every job is done."""
    with log_path.open("wb") as log:
        worker = subprocess.Popen(  # noqa: ASYNC220 - started at once, stopped in a thread
            [sys.executable, "-m", "app.worker"],
            cwd=BACKEND_DIR,
            env=server_environment(database_url, free_port()),  # a port it does not open
            stderr=log,
            start_new_session=True,
        )
    engine = create_async_engine(database_url)
    try:
        deadline = time.monotonic() + WORKER_SECONDS
        pending = "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"
        while time.monotonic() < deadline:
            async with engine.connect() as connection:
                if not await connection.scalar(text(pending)):
                    return
            await asyncio.sleep(0.2)
        raise AssertionError(f"jobs still waiting after {WORKER_SECONDS} s: {log_path}")
    finally:
        await engine.dispose()
        await asyncio.to_thread(stop, worker)


async def test_a_question_asked_before_the_video_is_ready_is_kept_to_ask_again(
    page: Page, tmp_path: Path, served_database: str
) -> None:
    await sign_up(page, new_email())
    await upload_captions(page, tmp_path)

    await page.get_by_role("link", name="Search").click()
    await page.get_by_label("Words or a question").fill(QUESTION)
    await page.get_by_label("Words or a question").press("Enter")
    await expect(page.locator("#search-summary")).to_contain_text("still being prepared")

    await page.get_by_role("link", name="Chat").click()
    await page.get_by_label("Your question").fill(QUESTION)
    await page.get_by_label("Your question").press("Enter")
    early = page.locator(".message.from-assistant").last
    await expect(early).to_contain_text("aún se están preparando")
    await expect(page.get_by_label("Your question")).to_have_value(QUESTION)
    await screenshot(page, "21-chat-preparing")

    await run_the_worker_until_no_job_waits(served_database, tmp_path / "worker.log")
    await page.get_by_label("Your question").press("Enter")

    answer = page.locator(".message.from-assistant").nth(1)
    await expect(answer).to_contain_text("250 degrees")
    await expect(answer.locator("a.cite").first).to_be_visible()
    await expect(page.get_by_label("Your question")).to_have_value("")
    await screenshot(page, "22-chat-ready")
