"""The sentences an answer quotes from are embedded once per process, per model."""

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

from app.services.embeddings.base import EmbeddingError
from app.services.embeddings.cache import PassageVectorCache
from tests.fakes import HashingEmbedder


async def test_a_later_answer_embeds_only_the_sentences_not_seen_before() -> None:
    model, cache = HashingEmbedder(), PassageVectorCache()
    first = await cache.embed_passages(model, ["feed the starter", "bake it covered"])
    again = await cache.embed_passages(model, ["bake it covered", "let it cool", "let it cool"])

    assert model.passage_calls == [["feed the starter", "bake it covered"], ["let it cool"]]
    assert np.allclose(first, [model.vector("feed the starter"), model.vector("bake it covered")])
    assert np.allclose(again[0], first[1])
    assert again.shape == (3, model.dimension)
    assert again.dtype == np.float32


async def test_vectors_of_two_models_are_kept_apart() -> None:
    cache = PassageVectorCache()
    small, other = HashingEmbedder("hashing-8", 8), HashingEmbedder("hashing-16", 16)
    await cache.embed_passages(small, ["the same words"])
    vectors = await cache.embed_passages(other, ["the same words"])

    assert other.passage_calls == [["the same words"]]
    assert vectors.shape == (1, 16)


async def test_past_its_capacity_the_least_recently_used_go_first() -> None:
    model, cache = HashingEmbedder(), PassageVectorCache(capacity=2)
    await cache.embed_passages(model, ["one", "two"])
    await cache.embed_passages(model, ["one"])  # "two" is now the least recently used
    await cache.embed_passages(model, ["three"])
    model.passage_calls.clear()
    await cache.embed_passages(model, ["one", "three", "two"])

    assert model.passage_calls == [["two"]]


async def test_a_failure_is_not_kept() -> None:
    model, cache = HashingEmbedder(), PassageVectorCache()
    model.failures = [EmbeddingError("the server went away")]
    with pytest.raises(EmbeddingError):
        await cache.embed_passages(model, ["said once"])
    assert len(await cache.embed_passages(model, ["said once"])) == 1
    assert model.passage_calls == [["said once"], ["said once"]]


async def test_nothing_to_embed_is_an_empty_table() -> None:
    model = HashingEmbedder()
    vectors = await PassageVectorCache().embed_passages(model, [])
    assert vectors.shape == (0, model.dimension)
    assert model.passage_calls == []


async def test_an_answer_keeps_its_rows_when_another_fills_the_cache_meanwhile() -> None:
    """Two answers at once: the second one's sentences push the first one's kept sentence out
    of a small cache while the first waits for the model."""
    cache = PassageVectorCache(capacity=2)
    slow, model = HashingEmbedder(), HashingEmbedder()
    await cache.embed_passages(model, ["kept"])
    started, release = asyncio.Event(), asyncio.Event()
    embed = slow.embed_passages

    async def waiting(texts: Sequence[str]) -> list[list[float]]:
        started.set()
        await release.wait()
        return await embed(texts)

    slow.embed_passages = waiting  # type: ignore[method-assign]
    first = asyncio.create_task(cache.embed_passages(slow, ["kept", "new"]))
    await started.wait()
    await cache.embed_passages(model, ["other", "more", "still more"])
    release.set()

    vectors = await first
    assert np.allclose(vectors, [model.vector("kept"), model.vector("new")])
