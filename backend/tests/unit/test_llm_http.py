"""The OpenAI-compatible provider against a fake server on loopback."""

import logging
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from app.core.config import Settings, get_settings
from app.services.extract import Passage
from app.services.llm import (
    ChatMessage,
    Delta,
    Finished,
    LanguageModelError,
    OfflineExtractiveModel,
    OpenAICompatibleModel,
    build_language_model,
)
from testkit.llm_server import FakeLLM, serving

MESSAGES = [ChatMessage("system", "Use the excerpts."), ChatMessage("user", "How hot is the oven?")]


def settings_for(base_url: str, **changes: object) -> Settings:
    return get_settings().model_copy(
        update={
            "llm_base_url": base_url,
            "llm_api_key": None,
            "llm_model": "test-model",
            "llm_retry_base_seconds": 0.0,
            **changes,
        }
    )


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeLLM, str]]:
    llm = FakeLLM()
    async with serving(llm) as base_url:
        yield llm, base_url


async def test_complete_sends_the_model_messages_and_key(fake: tuple[FakeLLM, str]) -> None:
    llm, base_url = fake
    model = OpenAICompatibleModel(settings_for(base_url, llm_api_key=SecretStr("sk-test")))
    try:
        completion = await model.complete(MESSAGES, [])
    finally:
        await model.aclose()

    assert completion.text == llm.answer
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (42, 7)
    sent = llm.requests[0]
    assert sent["model"] == "test-model"
    assert "stream" not in sent
    assert sent["messages"][1] == {"role": "user", "content": "How hot is the oven?"}
    assert llm.headers[0]["authorization"] == "Bearer sk-test"


async def test_stream_yields_the_pieces_then_the_usage(fake: tuple[FakeLLM, str]) -> None:
    llm, base_url = fake
    model = OpenAICompatibleModel(settings_for(base_url))
    try:
        events = [event async for event in model.stream(MESSAGES, [])]
    finally:
        await model.aclose()

    text = "".join(e.text for e in events if isinstance(e, Delta))
    assert text.strip() == llm.answer
    assert isinstance(events[-1], Finished)
    assert events[-1].usage.completion_tokens == 7
    assert llm.requests[0]["stream"] is True
    assert "authorization" not in llm.headers[0]  # no key configured, none sent


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_retryable_statuses_are_retried(fake: tuple[FakeLLM, str], status: int) -> None:
    llm, base_url = fake
    llm.failures = [status, status]
    model = OpenAICompatibleModel(settings_for(base_url, llm_max_retries=2))
    try:
        completion = await model.complete(MESSAGES, [])
    finally:
        await model.aclose()
    assert completion.text == llm.answer
    assert len(llm.requests) == 3


async def test_retries_run_out_with_a_clear_error(fake: tuple[FakeLLM, str]) -> None:
    llm, base_url = fake
    llm.failures = [503, 503, 503]
    model = OpenAICompatibleModel(settings_for(base_url, llm_max_retries=2))
    try:
        with pytest.raises(LanguageModelError, match="HTTP 503"):
            await model.complete(MESSAGES, [])
    finally:
        await model.aclose()
    assert len(llm.requests) == 3


async def test_a_client_error_is_not_retried(fake: tuple[FakeLLM, str]) -> None:
    llm, base_url = fake
    llm.failures = [400]
    model = OpenAICompatibleModel(settings_for(base_url, llm_max_retries=3))
    try:
        with pytest.raises(LanguageModelError, match="HTTP 400"):
            [event async for event in model.stream(MESSAGES, [])]
    finally:
        await model.aclose()
    assert len(llm.requests) == 1


async def test_an_error_answer_is_logged_shortened_and_kept_out_of_the_error(
    fake: tuple[FakeLLM, str], caplog: pytest.LogCaptureFixture
) -> None:
    llm, base_url = fake
    llm.failures = [400]
    llm.error_message = "marker-31c7 " + "x" * 10_000
    model = OpenAICompatibleModel(settings_for(base_url, llm_api_key=SecretStr("sk-echoed")))
    caplog.set_level(logging.WARNING)
    try:
        with pytest.raises(LanguageModelError) as refused:
            await model.complete(MESSAGES, [])
    finally:
        await model.aclose()

    assert refused.value.status == 400
    assert refused.value.public_message() == "The language model failed (HTTP 400)."
    assert "marker-31c7" not in str(refused.value)
    [logged] = [r for r in caplog.records if "marker-31c7" in r.getMessage()]
    assert logged.levelno == logging.WARNING
    assert "HTTP 400" in logged.getMessage()
    assert len(logged.getMessage()) < 2_000
    assert "sk-echoed" not in caplog.text


async def test_missing_usage_is_counted_locally(fake: tuple[FakeLLM, str]) -> None:
    llm, base_url = fake
    llm.send_usage = False
    model = OpenAICompatibleModel(settings_for(base_url))
    try:
        completion = await model.complete(MESSAGES, [])
        streamed = [event async for event in model.stream(MESSAGES, [])]
    finally:
        await model.aclose()
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    assert isinstance(streamed[-1], Finished)
    assert streamed[-1].usage.completion_tokens > 0


async def test_an_unreachable_server_fails_after_retries() -> None:
    from testkit.llm_server import free_port

    address = f"127.0.0.1:{free_port()}"
    model = OpenAICompatibleModel(settings_for(f"http://{address}/v1", llm_max_retries=1))
    try:
        with pytest.raises(LanguageModelError, match="unreachable") as unreachable:
            await model.complete(MESSAGES, [])
    finally:
        await model.aclose()
    assert unreachable.value.status is None
    assert unreachable.value.public_message() == "The language model failed."
    assert address not in str(unreachable.value)


def test_the_provider_follows_the_settings() -> None:
    assert isinstance(build_language_model(get_settings()), OfflineExtractiveModel)
    configured = build_language_model(settings_for("http://127.0.0.1:1/v1"))
    assert isinstance(configured, OpenAICompatibleModel)


async def test_the_offline_model_quotes_the_best_sentences_with_their_numbers() -> None:
    model = OfflineExtractiveModel(get_settings())
    passages = [
        Passage(1, "Mix the dough. Bake at 250 degrees in a Dutch oven."),
        Passage(2, "Coffee likes water at 93 degrees."),
    ]
    completion = await model.complete(MESSAGES, passages)
    assert "Bake at 250 degrees in a Dutch oven. [1]" in completion.text
    assert "Coffee" not in completion.text
    assert completion.usage.prompt_tokens > 0
    pieces = [e async for e in model.stream(MESSAGES, passages)]
    assert "".join(p.text for p in pieces if isinstance(p, Delta)) == completion.text
