"""The web page in a real headless Chromium, against the app served for real.

The app runs as `make run` runs it (`python -m app.serve`, one worker) on a free port, on a
database of its own created for the module and dropped after it: what the page does is
committed, so it stays out of the database the other tests roll back in. It uses the offline
language model and embeddings, as the other tests do, and reaches YouTube through a proxy that
refuses every connection, so fetching a video fails at once, the same way everywhere.

The browser is Debian's `chromium` (CHROMIUM_PATH names another). Without one the tests skip on
a developer's machine, and fail when `CI` is set: CI installs it (`.ci/run`).
"""

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    async_playwright,
    expect,
)

from app.core.config import BACKEND_DIR
from testkit.database import create_database, drop_database
from testkit.processes import terminate, unmeasured
from tests.service.conftest import free_port, wait_for_health

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Every assertion waits this long at most: CI shares two cores among several jobs.
EXPECT_TIMEOUT_MS = 30_000
REFUSING_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens there

expect.set_options(timeout=EXPECT_TIMEOUT_MS)


def chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH", DEFAULT_CHROMIUM)
    return configured if Path(configured).exists() else shutil.which("chromium")


def server_environment(database_url: str, port: int, **settings: str) -> dict[str, str]:
    environment = {k: v for k, v in unmeasured(os.environ).items() if not k.startswith("LLM_")}
    environment.update(
        DATABASE_URL=database_url,
        PORT=str(port),
        WORKERS="1",
        LOG_LEVEL="warning",
        JOB_MAX_ATTEMPTS="1",  # a failed fetch fails its job at once, with the reason
        HTTPS_PROXY=REFUSING_PROXY,
        HTTP_PROXY=REFUSING_PROXY,
        NO_PROXY="127.0.0.1,localhost",  # a fake language model on loopback is reached
        # Each test signs up a person of its own, all from 127.0.0.1: more than the ten
        # sign-ups an hour one address gets by default.
        SIGNUP_PER_ADDRESS_PER_HOUR="0",
        **settings,
    )
    return environment


def stop(process: subprocess.Popen[bytes]) -> None:
    terminate(process, timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # a worker left behind


def start_server(
    database_url: str, log_path: Path, module: str, settings: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    """`python -m <module>` on a free port, once it answers; its log goes to `log_path`."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, a module of the project
            [sys.executable, "-m", module],
            cwd=BACKEND_DIR,
            env=server_environment(database_url, port, **settings),
            stderr=log,
            start_new_session=True,  # its own process group: a worker is ended with it
        )
    try:
        wait_for_health(process, port)
    except BaseException:
        stop(process)
        raise
    return process, port


@asynccontextmanager
async def serving_the_app(
    server_url: str, log_dir: Path, module: str = "app.serve", **settings: str
) -> AsyncIterator[str]:
    """The base URL of the app, served by `python -m <module>` (as `make run` serves it, or
    `testkit.replayed_server` with YouTube replayed) on a database of its own with these
    settings."""
    async with (
        a_database(server_url) as database_url,
        serving_on(database_url, log_dir, module, **settings) as base_url,
    ):
        yield base_url


@asynccontextmanager
async def a_database(server_url: str) -> AsyncIterator[str]:
    """A database of its own for a served app, dropped after it."""
    database_url = await create_database(server_url, prefix="ytt_browser")
    try:
        yield database_url
    finally:
        await drop_database(database_url)


@asynccontextmanager
async def serving_on(
    database_url: str, log_dir: Path, module: str = "app.serve", **settings: str
) -> AsyncIterator[str]:
    """The base URL of the app served by `python -m <module>` on that database."""
    started = await asyncio.to_thread(
        start_server, database_url, log_dir / "server.log", module, settings
    )
    process, port = started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await asyncio.to_thread(stop, process)


@pytest.fixture(scope="session")
async def live_server(
    server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The base URL of the app serving the page, with the offline models: one per test process
    for the modules that do not serve their own (the page's, the docs')."""
    async with serving_the_app(server_url, tmp_path_factory.mktemp("server")) as base_url:
        yield base_url


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium per test process; each test opens a context (its own cookies and storage)."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("no Chromium at /usr/bin/chromium: CI must install it (.ci/run)")
        pytest.skip("no Chromium here (install Debian's chromium package to run these tests)")
    async with async_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        launched = await playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield launched
        await launched.close()


async def new_page(
    browser: Browser, base_url: str, **options: object
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(base_url=base_url, **options)  # type: ignore[arg-type]
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    page = await context.new_page()
    return context, page


@pytest.fixture
async def page(browser: Browser, live_server: str) -> AsyncIterator[Page]:
    """A fresh tab (no token held) on a desktop-sized window, allowed to use the clipboard."""
    context, tab = await new_page(
        browser,
        live_server,
        viewport={"width": 1280, "height": 860},
        permissions=["clipboard-read", "clipboard-write"],
    )
    problems = problems_reported(tab)
    yield tab
    await context.close()
    assert problems == [], "the page reported errors"


def problems_reported(tab: Page) -> list[str]:
    """What the page's scripts throw, and what the browser refuses (its policy, a module that
    does not load), as it happens. Failed API calls are left out: the page shows those."""
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(message.text)

    tab.on("console", on_console)
    return problems


@pytest.fixture
async def phone(browser: Browser, live_server: str) -> AsyncIterator[Page]:
    """A fresh tab the width of a phone (390 px), with touch."""
    context, tab = await new_page(
        browser,
        live_server,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    yield tab
    await context.close()


async def screenshot(page: Page, name: str) -> None:
    """Saves a picture of the page into PAGE_SCREENSHOTS (created if missing), when it is set."""
    folder = os.environ.get("PAGE_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
