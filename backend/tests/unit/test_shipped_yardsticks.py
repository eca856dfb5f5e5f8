"""The everyday texts' vectors ship with the code for the offline models
(app/services/embeddings/background.py): what they say must be what the model says now, and a
text changed since they were made must be embedded, not answered from them."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from app.services.embeddings import background
from app.services.embeddings.factory import OFFLINE_MODELS, offline_provider

REWRITE = "python -m app.services.embeddings.background writes them again"


@pytest.mark.slow
@pytest.mark.parametrize("name", OFFLINE_MODELS)
async def test_the_shipped_vectors_are_what_the_model_says_of_the_texts_now(name: str) -> None:
    provider = offline_provider(name)
    digest = background.texts_digest(*background.yardstick_texts())
    with np.load(background.shipped_path(provider.model_name)) as shipped:
        assert str(shipped["digest"]) == digest, f"the texts changed: {REWRITE}"
        passages, questions = shipped["vectors"], shipped["questions"]
    live = await background.embed_texts(provider)
    assert np.allclose(passages, live.passages, atol=1e-5), f"the model changed: {REWRITE}"
    assert np.allclose(questions, live.questions, atol=1e-5), f"the model changed: {REWRITE}"


def test_the_everyday_level_leaves_out_a_sentence_asked_of_itself() -> None:
    sentences = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    asked = sentences[:2]
    # Asked of the others only: (0 + 0.6 + 0 + 0.8) / 4, not counting the 1.0 of each itself.
    assert background.everyday_level(sentences, asked) == pytest.approx(0.35)


class CountingModel:
    """Answers every passage with one unit vector and every question with another (0.6 apart),
    and counts the texts it embeds."""

    model_name = "counting-model"
    dimension = 2

    def __init__(self) -> None:
        self.embedded = 0

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return [[1.0, 0.0] for _ in texts]

    async def embed_query(self, text: str) -> list[float]:
        self.embedded += 1
        return [0.6, 0.8]

    async def aclose(self) -> None:
        pass


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CountingModel:
    """A model with no vectors embedded yet, and vectors shipped to a folder of its own."""
    monkeypatch.setattr(background, "SHIPPED_DIR", tmp_path)
    monkeypatch.setattr(background, "_yardsticks", {})
    return CountingModel()


TEXTS = 70 + background.LEVEL_QUESTIONS  # the passages, and the sentences asked as questions


async def test_vectors_made_from_other_texts_are_not_used(model: CountingModel) -> None:
    stale = np.zeros((70, 2), dtype=np.float32)
    np.savez(
        background.shipped_path(model.model_name),
        digest=np.array("old"),
        vectors=stale,
        questions=stale[: background.LEVEL_QUESTIONS],
    )

    found = await background.background_of(model, [1.0, 0.0])

    assert found is not None
    assert found.everyday_level == pytest.approx(0.6)  # the model's vectors, not the zeros shipped
    assert model.embedded == TEXTS


async def test_vectors_made_from_these_texts_are_read_not_embedded(model: CountingModel) -> None:
    await background.ship(model)
    model.embedded = 0

    found = await background.background_of(model, [0.0, 1.0])

    assert found is not None
    assert model.embedded == 0
    assert found.everyday_level == pytest.approx(0.6)  # the model's level, whatever the question
    assert found.by_language["en"] == pytest.approx(0.0)  # this question's own
    assert set(found.by_language) == {"en", "es", "de", "fr", "pl"}
