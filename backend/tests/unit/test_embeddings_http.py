"""The OpenAI-compatible embedding provider against a fake /v1/embeddings server on loopback."""

import logging
import math
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from app.core.config import Settings, get_settings
from app.services.embeddings.base import EmbeddingError
from app.services.embeddings.factory import build_embedding_provider
from app.services.embeddings.http import HttpEmbeddingProvider, read_embeddings
from testkit.llm_server import FakeEmbeddings, free_port, serving

SECRET = "sk-embedding-secret-0123456789"


def settings_for(base_url: str, **changes: object) -> Settings:
    return get_settings().model_copy(
        update={
            "embedding_base_url": base_url,
            "embedding_api_key": None,
            "embedding_model": "test-embedder",
            "embedding_dimensions": None,
            "embedding_batch_size": 64,
            "llm_retry_base_seconds": 0.0,
            **changes,
        }
    )


def unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector]


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeEmbeddings, str]]:
    server = FakeEmbeddings()
    async with serving(server) as base_url:
        yield server, base_url


async def test_texts_go_in_batches_and_come_back_in_order_at_unit_length(
    fake: tuple[FakeEmbeddings, str],
) -> None:
    server, base_url = fake
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    provider = HttpEmbeddingProvider(settings_for(base_url, embedding_batch_size=2))
    try:
        vectors = await provider.embed_passages(texts)
    finally:
        await provider.aclose()

    assert [request["input"] for request in server.requests] == [
        ["a", "bb"],
        ["ccc", "dddd"],
        ["eeeee"],
    ]
    expected = [unit(FakeEmbeddings.raw_vector(text, 8)) for text in texts]
    assert vectors == [pytest.approx(vector) for vector in expected]
    assert server.requests[0]["model"] == "test-embedder"
    assert server.requests[0]["encoding_format"] == "float"
    assert "dimensions" not in server.requests[0]
    assert provider.dimension == 8  # learnt from the first answer
    assert provider.model_name == "test-embedder"


async def test_no_texts_ask_nothing(fake: tuple[FakeEmbeddings, str]) -> None:
    server, base_url = fake
    provider = HttpEmbeddingProvider(settings_for(base_url))
    try:
        assert await provider.embed_passages([]) == []
    finally:
        await provider.aclose()
    assert server.requests == []


async def test_the_configured_length_is_asked_for_and_names_the_vectors(
    fake: tuple[FakeEmbeddings, str],
) -> None:
    server, base_url = fake
    provider = HttpEmbeddingProvider(settings_for(base_url, embedding_dimensions=4))
    try:
        assert provider.dimension == 4  # known before any request
        vector = await provider.embed_query("how long")
    finally:
        await provider.aclose()
    assert len(vector) == 4
    assert server.requests[0]["dimensions"] == 4
    assert provider.model_name == "test-embedder@4"


async def test_the_length_is_unknown_until_the_first_answer(
    fake: tuple[FakeEmbeddings, str],
) -> None:
    _, base_url = fake
    provider = HttpEmbeddingProvider(settings_for(base_url))
    try:
        with pytest.raises(EmbeddingError, match="EMBEDDING_DIMENSIONS"):
            _ = provider.dimension
    finally:
        await provider.aclose()


async def test_vectors_of_another_length_are_a_clear_error(
    fake: tuple[FakeEmbeddings, str],
) -> None:
    server, base_url = fake
    server.ignore_requested_dimensions = True  # a server that cannot shorten its vectors
    provider = HttpEmbeddingProvider(settings_for(base_url, embedding_dimensions=4))
    try:
        with pytest.raises(EmbeddingError, match="8 dimensions for test-embedder, expected 4"):
            await provider.embed_passages(["some text"])
    finally:
        await provider.aclose()


async def test_a_length_change_between_answers_is_a_clear_error(
    fake: tuple[FakeEmbeddings, str],
) -> None:
    server, base_url = fake
    provider = HttpEmbeddingProvider(settings_for(base_url))
    try:
        await provider.embed_query("first")
        server.dimensions = 6
        with pytest.raises(EmbeddingError, match="6 dimensions for test-embedder, expected 8"):
            await provider.embed_query("second")
    finally:
        await provider.aclose()


@pytest.mark.parametrize("statuses", [[429], [503], [429, 503]])
async def test_rate_limits_and_unavailability_are_retried(
    fake: tuple[FakeEmbeddings, str], statuses: list[int]
) -> None:
    server, base_url = fake
    server.failures = list(statuses)
    provider = HttpEmbeddingProvider(settings_for(base_url, llm_max_retries=2))
    try:
        vectors = await provider.embed_passages(["text"])
    finally:
        await provider.aclose()
    assert len(vectors) == 1
    assert len(server.requests) == len(statuses) + 1


async def test_the_key_is_sent_and_never_shown(
    fake: tuple[FakeEmbeddings, str], caplog: pytest.LogCaptureFixture
) -> None:
    server, base_url = fake
    settings = settings_for(base_url, embedding_api_key=SecretStr(SECRET), llm_max_retries=1)
    provider = HttpEmbeddingProvider(settings)
    server.failures = [503, 401]
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(EmbeddingError, match="HTTP 401") as refused:
            await provider.embed_query("text")
    finally:
        await provider.aclose()

    assert server.headers[0]["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in str(refused.value)
    assert SECRET not in caplog.text
    assert "retrying" in caplog.text  # the 503 was logged, without the key
    assert SECRET not in repr(settings)


async def test_an_error_answer_stays_out_of_the_error(fake: tuple[FakeEmbeddings, str]) -> None:
    server, base_url = fake
    server.failures = [400]
    server.error_message = "marker-8d02"
    provider = HttpEmbeddingProvider(settings_for(base_url))
    try:
        with pytest.raises(EmbeddingError, match="HTTP 400") as refused:
            await provider.embed_query("text")
    finally:
        await provider.aclose()
    # The message becomes a job's visible failure reason: the body stays in the log.
    assert "marker-8d02" not in str(refused.value)
    assert base_url.removeprefix("http://") not in str(refused.value)


async def test_an_unreachable_server_is_a_clear_error() -> None:
    settings = settings_for(f"http://127.0.0.1:{free_port()}/v1", llm_max_retries=1)
    provider = HttpEmbeddingProvider(settings)
    try:
        with pytest.raises(EmbeddingError, match="the embedding server is unreachable"):
            await provider.embed_query("text")
    finally:
        await provider.aclose()


async def test_prefixes_mark_queries_and_passages(fake: tuple[FakeEmbeddings, str]) -> None:
    server, base_url = fake
    settings = settings_for(
        base_url, embedding_query_prefix="query: ", embedding_passage_prefix="passage: "
    )
    provider = HttpEmbeddingProvider(settings)
    try:
        await provider.embed_query("what")
        await provider.embed_passages(["said"])
    finally:
        await provider.aclose()
    assert [request["input"] for request in server.requests] == [["query: what"], ["passage: said"]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "could not be read"),
        (b'{"object": "list"}', "could not be read"),
        (b'{"data": [{"index": 0, "embedding": ["x"]}]}', "could not be read"),
        (b'{"data": [{"index": 0, "embedding": [1.0]}]}', "1 vectors for 2 texts"),
        (
            b'{"data": [{"index": 0, "embedding": [1.0]}, {"index": 5, "embedding": [1.0]}]}',
            "2 vectors for 2 texts",
        ),
        (
            b'{"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]}',
            "different or no lengths",
        ),
        (
            b'{"data": [{"index": 0, "embedding": [0.0]}, {"index": 1, "embedding": [1.0]}]}',
            "cannot be normalised",
        ),
    ],
)
def test_answers_that_cannot_be_used_are_refused(content: bytes, message: str) -> None:
    with pytest.raises(EmbeddingError, match=message):
        read_embeddings(content, 2)


async def test_the_factory_picks_the_http_provider_when_a_server_is_configured() -> None:
    provider = build_embedding_provider(settings_for("http://127.0.0.1:9/v1"))
    await provider.aclose()
    assert isinstance(provider, HttpEmbeddingProvider)
