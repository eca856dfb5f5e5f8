"""Embeddings from an OpenAI-compatible `/embeddings` API: OpenAI, Ollama, vLLM, LM Studio…

Texts go in batches of EMBEDDING_BATCH_SIZE, with the language model's timeouts and retry policy
(app/services/openai_http.py). Answers are put back in input order by their `index`, checked
(one finite vector per text, all of one length) and scaled to unit length. The length is
EMBEDDING_DIMENSIONS when set (also sent as `dimensions`, which text-embedding-3 models use to
shorten their vectors), else that of the first answer; an answer of another length is an error.
The server embeds each text whole: pick a model whose window holds CHUNK_TOKENS tokens.
"""

import asyncio
import json
import math
from collections.abc import Sequence
from typing import Any

import httpx

from app.core.config import Settings
from app.services.embeddings.base import EmbeddingError
from app.services.openai_http import RetryingPoster, api_client

SUBJECT = "the embedding server"


class HttpEmbeddingProvider:
    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        assert settings.embedding_base_url is not None
        self.settings = settings
        self.client = client or api_client(
            settings.embedding_base_url, settings.embedding_api_key, settings
        )
        self.poster = RetryingPoster(
            self.client, settings, subject=SUBJECT, error_type=EmbeddingError
        )
        self._dimension = settings.embedding_dimensions

    @property
    def model_name(self) -> str:
        """The model, and the length asked for: shortened vectors are another vector space."""
        model, dimensions = self.settings.embedding_model, self.settings.embedding_dimensions
        return f"{model}@{dimensions}" if dimensions else model

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            raise EmbeddingError(
                f"the length of {self.settings.embedding_model}'s vectors is known once "
                "the server has answered; set EMBEDDING_DIMENSIONS to know it up front"
            )
        return self._dimension

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        prefix, size = self.settings.embedding_passage_prefix, self.settings.embedding_batch_size
        vectors: list[list[float]] = []
        for start in range(0, len(texts), size):
            vectors += await self._embed([prefix + text for text in texts[start : start + size]])
        return vectors

    async def embed_query(self, text: str) -> list[float]:
        return (await self._embed([self.settings.embedding_query_prefix + text]))[0]

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        payload: dict[str, Any] = {
            "model": self.settings.embedding_model,
            "input": texts,
            "encoding_format": "float",
        }
        if self.settings.embedding_dimensions:
            payload["dimensions"] = self.settings.embedding_dimensions
        response = await self.poster.post("embeddings", payload, stream=False)
        # Parsing and scaling thousands of floats takes milliseconds: off the event loop.
        vectors = await asyncio.to_thread(read_embeddings, response.content, len(texts))
        self._check_dimension(len(vectors[0]))
        return vectors

    def _check_dimension(self, length: int) -> None:
        if self._dimension is None:
            self._dimension = length
        elif length != self._dimension:
            raise EmbeddingError(
                f"{SUBJECT} returned vectors of {length} dimensions for "
                f"{self.settings.embedding_model}, expected {self._dimension} "
                "(EMBEDDING_DIMENSIONS, or the length of its first answer)"
            )


def read_embeddings(content: bytes, count: int) -> list[list[float]]:
    """The `count` vectors of an /embeddings answer, in input order, scaled to unit length."""
    try:
        items = sorted(json.loads(content)["data"], key=lambda item: item["index"])
        indexes = [item["index"] for item in items]
        vectors = [[float(value) for value in item["embedding"]] for item in items]
    except (ValueError, KeyError, TypeError) as error:
        raise EmbeddingError(f"{SUBJECT}'s answer could not be read: {error!r}") from error
    if indexes != list(range(count)):
        raise EmbeddingError(f"{SUBJECT} returned {len(items)} vectors for {count} texts")
    if len({len(vector) for vector in vectors}) != 1 or not vectors[0]:
        raise EmbeddingError(f"{SUBJECT} returned vectors of different or no lengths")
    return [unit_length(vector) for vector in vectors]


def unit_length(vector: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(value * value for value in vector))
    if not math.isfinite(norm) or norm == 0:
        raise EmbeddingError(f"{SUBJECT} returned a vector that cannot be normalised")
    return [value / norm for value in vector]
