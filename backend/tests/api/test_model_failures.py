"""A language model's error answer reaches the server's log, never a user.

The fake server's error body carries a marker, and echoes the request's address and key as some
real servers do: none of the three may appear in an answer, a stream or a stored message.
"""

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import get_settings
from app.core.logging import configure_logging
from app.services.llm import OpenAICompatibleModel
from testkit.llm_server import FakeLLM, serving
from tests.api.conftest import Account, assert_error
from tests.api.talks import talking_to
from tests.api.test_chat import OVEN_QUESTION, ask, new_conversation, parse_sse

MARKER = "internal-trace-7f3a9c"
API_KEY = "sk-never-shown-5b21e0"
PUBLIC_MESSAGE = "The language model failed (HTTP 500)."


@pytest.fixture
async def failing() -> AsyncIterator[tuple[OpenAICompatibleModel, str]]:
    """A model whose server answers every request 500 with the marker; and its address."""
    llm = FakeLLM(failures=[500] * 10, error_message=f"upstream exploded, trace {MARKER}")
    async with serving(llm) as base_url:
        settings = get_settings().model_copy(
            update={
                "llm_base_url": base_url,
                "llm_api_key": SecretStr(API_KEY),
                "llm_max_retries": 0,
            }
        )
        model = OpenAICompatibleModel(settings)
        try:
            yield model, base_url
        finally:
            await model.aclose()


def assert_nothing_from_upstream(text: str, base_url: str) -> None:
    assert MARKER not in text
    assert API_KEY not in text
    assert base_url.removeprefix("http://") not in text


async def stored_messages(client: httpx.AsyncClient, account: Account, conversation: str) -> str:
    response = await client.get(
        f"/api/v1/conversations/{conversation}/messages", headers=account.headers
    )
    assert response.status_code == 200, response.text
    return response.text


async def test_a_failed_answer_names_the_status_only_and_the_body_is_logged(
    session: AsyncSession,
    failing: tuple[OpenAICompatibleModel, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    model, base_url = failing
    caplog.set_level(logging.WARNING, logger="app.services.openai_http")
    async with talking_to(session, model) as (client, account):
        conversation = await new_conversation(client, account)
        response = await ask(client, account, conversation, OVEN_QUESTION)
        stored = await stored_messages(client, account, conversation)

    assert assert_error(response, 502, "bad_gateway")["message"] == PUBLIC_MESSAGE
    assert_nothing_from_upstream(response.text, base_url)
    assert_nothing_from_upstream(stored, base_url)
    logged = [r for r in caplog.records if r.levelno == logging.WARNING and MARKER in r.message]
    assert logged, caplog.text
    assert API_KEY not in caplog.text  # an echoed key is blanked in the log too


async def test_a_failed_stream_names_the_status_only(
    session: AsyncSession, failing: tuple[OpenAICompatibleModel, str]
) -> None:
    model, base_url = failing
    async with talking_to(session, model) as (client, account):
        conversation = await new_conversation(client, account)
        response = await client.post(
            f"/api/v1/conversations/{conversation}/messages",
            json={"content": OVEN_QUESTION},
            headers={**account.headers, "Accept": "text/event-stream"},
        )
        stored = await stored_messages(client, account, conversation)

    name, data = parse_sse(response.text)[-1]
    assert (name, data["error"]["code"]) == ("error", "bad_gateway")
    assert data["error"]["message"] == PUBLIC_MESSAGE
    assert_nothing_from_upstream(response.text, base_url)
    assert_nothing_from_upstream(stored, base_url)


async def test_a_failed_draft_names_the_status_only(
    session: AsyncSession, failing: tuple[OpenAICompatibleModel, str]
) -> None:
    model, base_url = failing
    async with talking_to(session, model) as (client, account):
        response = await client.post(
            "/api/v1/drafts",
            json={"template_type": "blog", "topic": "sourdough oven temperature"},
            headers=account.headers,
        )

    assert assert_error(response, 502, "bad_gateway")["message"] == PUBLIC_MESSAGE
    assert_nothing_from_upstream(response.text, base_url)


async def test_a_password_in_the_models_url_never_reaches_the_log(
    session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    """LLM_BASE_URL may carry a password (http://user:password@host): the server echoes the
    Basic credentials it was sent, which are blanked like a key; and the request's URL, which
    httpx logs at INFO, is not logged at all (`configure_logging`)."""
    llm = FakeLLM(failures=[500] * 10, error_message=f"upstream exploded, trace {MARKER}")
    async with serving(llm) as base_url:
        with_password = base_url.replace("http://", "http://reader:pa55-never-shown@")
        settings = get_settings().model_copy(
            update={"llm_base_url": with_password, "llm_max_retries": 0}
        )
        model = OpenAICompatibleModel(settings)
        caplog.set_level(logging.WARNING, logger="app.services.openai_http")
        try:
            async with talking_to(session, model) as (client, account):
                conversation = await new_conversation(client, account)
                response = await ask(client, account, conversation, OVEN_QUESTION)
        finally:
            await model.aclose()

    assert_error(response, 502, "bad_gateway")
    assert any(MARKER in record.message for record in caplog.records), caplog.text
    assert "pa55-never-shown" not in caplog.text
    assert "cmVhZGVyOnBhNTUtbmV2ZXItc2hvd24=" not in caplog.text  # base64 of reader:pa55-…
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("info")
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], root.level = handlers, level
