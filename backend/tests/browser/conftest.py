"""A live server for the browser tests, and a headless Chromium driven by Playwright.

The server is `python -m app.serve` on a free port against the run's throw-away database, with
the ingest workers and the embedding model off: the pages under test need neither. The browser
tests skip only where no Chromium exists and CI is unset; in CI a missing browser fails them.
"""

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.service.conftest import start_process, stop_process, wait_for_health

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_executable() -> str | None:
    """A system Chromium, or None to use Playwright's own download when it has one."""
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def playwright_has_its_own(playwright_chromium_path: str) -> bool:
    return bool(playwright_chromium_path) and Path(playwright_chromium_path).exists()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    # The async API: the sync one runs its own event loop, which the suite's would then meet.
    async with async_playwright() as playwright:
        executable = chromium_executable()
        if executable is None and not playwright_has_its_own(playwright.chromium.executable_path):
            if os.environ.get("CI"):
                pytest.fail("no Chromium to run the browser tests with (CI is set)")
            pytest.skip("no Chromium on this machine")
        browser = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"]
        )
        yield browser
        await browser.close()


@pytest.fixture(scope="session")
def live_server(database_url: str) -> Iterator[str]:
    """The app served on 127.0.0.1; yields its base URL."""
    process, port = start_process(
        DATABASE_URL=database_url,
        JOBS_ENABLED="false",
        EMBEDDINGS_ENABLED="false",
        LOG_LEVEL="warning",  # its log goes to a pipe nobody reads until the end
    )
    try:
        wait_for_health(process, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)
