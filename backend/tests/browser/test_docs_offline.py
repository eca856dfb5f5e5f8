"""/docs and /redoc render in a real browser with no network beyond the app itself: every
request to another origin is refused, and the page's Content-Security-Policy reports nothing."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Route

pytestmark = pytest.mark.slow

SCREENSHOTS = Path(__file__).parent.parent.parent / ".data" / "screenshots"
RENDER_TIMEOUT_MS = 60_000  # a busy machine parses 1.5 MB of Swagger UI slowly

REPORT_VIOLATIONS = """document.addEventListener('securitypolicyviolation',
    e => window.reportViolation(e.violatedDirective + ' ' + e.blockedURI));"""


@dataclass
class Visit:
    """A page, and what it did while it loaded: the requests it sent to other origins, its
    console errors, and the policy violations the browser reported."""

    page: Page
    foreign_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def on_violation(self, description: str) -> None:
        self.violations.append(description)

    def assert_self_contained(self) -> None:
        assert self.foreign_requests == []
        assert self.violations == []
        assert self.console_errors == []


@pytest.fixture
async def visit(browser: Browser, live_server: str) -> AsyncIterator[Visit]:
    app_origin = urlsplit(live_server).netloc
    context = await browser.new_context()
    page = await context.new_page()
    seen = Visit(page)

    async def only_the_app(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("data", "blob") or url.netloc == app_origin:
            await route.continue_()
        else:
            seen.foreign_requests.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_the_app)
    page.on("console", seen.on_console)
    page.on("pageerror", lambda error: seen.console_errors.append(str(error)))
    await page.expose_function("reportViolation", seen.on_violation)
    await page.add_init_script(REPORT_VIOLATIONS)
    yield seen
    await context.close()


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / name)


async def test_swagger_ui_renders_offline(visit: Visit, live_server: str) -> None:
    await visit.page.goto(f"{live_server}/docs")
    await visit.page.wait_for_selector(".opblock-summary-path", timeout=RENDER_TIMEOUT_MS)

    paths = await visit.page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/conversations" in paths
    await screenshot(visit.page, "docs.png")
    visit.assert_self_contained()


async def test_redoc_renders_offline(visit: Visit, live_server: str) -> None:
    await visit.page.goto(f"{live_server}/redoc")
    heading = visit.page.get_by_role("heading", name="List Conversations")
    await heading.wait_for(timeout=RENDER_TIMEOUT_MS)

    await screenshot(visit.page, "redoc.png")
    visit.assert_self_contained()
