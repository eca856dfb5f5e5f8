"""When the language model fails, the page says so, and the question can be asked again."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from testkit.llm_server import FakeLLM, serving
from tests.browser.conftest import serving_the_app
from tests.browser.test_page import new_email, sign_up, upload_captions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def live_server(
    server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The app, answering through a language model that refuses every request."""
    model = FakeLLM(failures=[503] * 100)
    async with (
        serving(model) as model_url,
        serving_the_app(
            server_url,
            tmp_path_factory.mktemp("server"),
            LLM_BASE_URL=model_url,
            LLM_MAX_RETRIES="0",
        ) as base_url,
    ):
        yield base_url


async def test_a_failed_answer_is_shown_with_the_reason(page: Page, tmp_path: Path) -> None:
    await sign_up(page, new_email())
    await upload_captions(page, tmp_path)
    await page.get_by_role("link", name="Chat").click()

    await page.get_by_label("Your question").fill("How hot should the oven be?")
    await page.get_by_label("Your question").press("Enter")

    problem = page.locator("#ask-form").get_by_role("alert")
    await expect(problem).to_contain_text("The language model failed")
    await expect(page.locator(".message.from-user")).to_have_text(
        ["YouHow hot should the oven be?"]
    )
    await expect(page.locator(".message.from-assistant")).to_have_count(0)
    await expect(page.get_by_label("Your question")).to_have_value("How hot should the oven be?")
    await expect(page.get_by_role("button", name="Ask")).to_be_enabled()
