"""How close a question comes to everyday sentences that answer nothing: the yardsticks each
model carries with it, for "not in your videos" and for comparing passages across languages.

Embedding models differ in their range: multilingual-e5 puts almost any two texts above 0.7
in cosine, all-MiniLM spreads them from 0 to 1. The similarity of a video's best passage is
therefore measured against the model's everyday level: how close a question comes, on average,
to ~50 sentences on everyday subjects (`background.txt`, several languages), read off the
first dozen of them asked as questions of the others. The best passage of a video that answers
stands out above that level by a margin (README, "How answers are found and declined"). The
level is the model's, the same for every question: measured against each question's own
closeness to the everyday sentences instead, the decision was noisier. That closeness varies
from question to question by about as much as answerable and unanswerable questions differ, and
does not follow what the videos answer: answerable against unanswerable questions, the test
splits' AUC was 0.71 (long talks) and 0.77 (viewers' short talks) that way, 0.77 and 0.87 now.

The same model also rates a text in the question's own language higher than an equally
unrelated one in another. `background_by_language.json` holds four paragraphs of everyday
sentences, the same ones in each language, each about as long as a passage: an English question
comes 0.025 closer to the English paragraphs than to the German ones, a Spanish question 0.05
closer to the Spanish than to the English. (Single sentences hide most of it: an English
question is as close to an everyday sentence in German as to one in English.) The question's
mean closeness to each language's paragraphs is what a passage in that language gets for its
language alone (app/services/retrieval/ranking.py).

Embedding these texts costs e5 about 3 s on two cores, on every process's first question.
The offline models' vectors of them therefore ship with the code (`yardsticks/<model>.npz`,
with a digest of the texts they were made from) and are read instead; a text changed since, or
another model, is embedded live. `python -m app.services.embeddings.background` writes them
again after a change of texts or model.
"""

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.services.embeddings.base import EmbeddingError, EmbeddingProvider

BACKGROUND_FILE = Path(__file__).with_name("background.txt")
BY_LANGUAGE_FILE = Path(__file__).with_name("background_by_language.json")
SHIPPED_DIR = Path(__file__).with_name("yardsticks")

Vectors = npt.NDArray[np.float32]


# The everyday sentences also asked as questions (of the others) to read the model's level: a
# dozen give it within 0.001 of what all fifty do (e5 0.7396 against 0.7400), for a model
# embedded live (one request each to a model server) on a process's first question.
LEVEL_QUESTIONS = 12


@dataclass(frozen=True, slots=True)
class Background:
    """The model's everyday level (the mean cosine similarity of a question to everyday
    sentences), and a question's mean similarity to the everyday paragraphs of each language
    (by ISO 639-1 code)."""

    everyday_level: float
    by_language: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Yardstick:
    """A model's vectors of the everyday texts: the sentences and each language's paragraphs
    as passages, then the first LEVEL_QUESTIONS sentences as questions."""

    passages: Vectors
    questions: Vectors


@dataclass(frozen=True, slots=True)
class _Yardsticks:
    everyday_level: float
    by_language: dict[str, Vectors]


_yardsticks: dict[str, _Yardsticks] = {}
_lock = asyncio.Lock()


def background_sentences() -> list[str]:
    lines = BACKGROUND_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def paragraphs_by_language() -> dict[str, list[str]]:
    paragraphs: dict[str, list[str]] = json.loads(BY_LANGUAGE_FILE.read_text(encoding="utf-8"))
    return paragraphs


@cache
def yardstick_texts() -> tuple[list[str], dict[str, list[str]]]:
    """The everyday sentences, and the everyday paragraphs by language (read once: they ship
    with the code; callers only read them)."""
    return background_sentences(), paragraphs_by_language()


def texts_digest(everyday: list[str], by_language: dict[str, list[str]]) -> str:
    asked = everyday[:LEVEL_QUESTIONS]
    return hashlib.sha256(json.dumps([everyday, by_language, asked]).encode()).hexdigest()


def shipped_path(model_name: str) -> Path:
    return SHIPPED_DIR / f"{re.sub(r'[^A-Za-z0-9._-]', '_', model_name)}.npz"


def _read_shipped(model_name: str, digest: str) -> Yardstick | None:
    """The model's vectors of the texts as shipped, if made from these very texts."""
    path = shipped_path(model_name)
    if not path.is_file():
        return None
    with np.load(path) as shipped:
        if str(shipped["digest"]) != digest:
            return None
        return Yardstick(
            np.asarray(shipped["vectors"], dtype=np.float32),
            np.asarray(shipped["questions"], dtype=np.float32),
        )


async def embed_texts(provider: EmbeddingProvider) -> Yardstick:
    """The provider's vectors of the everyday texts (`Yardstick`)."""
    everyday, by_language = yardstick_texts()
    texts = everyday + [text for texts in by_language.values() for text in texts]
    passages = await provider.embed_passages(texts)
    questions = [await provider.embed_query(text) for text in everyday[:LEVEL_QUESTIONS]]
    return Yardstick(np.asarray(passages, dtype=np.float32), np.asarray(questions, np.float32))


def everyday_level(sentences: Vectors, asked: Vectors) -> float:
    """The mean similarity of each sentence asked as a question to the other sentences."""
    similarities = asked @ sentences.T
    others = ~np.eye(len(asked), len(sentences), dtype=bool)
    return float(similarities[others].mean())


async def _embedded(provider: EmbeddingProvider) -> _Yardsticks:
    """The texts' vectors under the provider's model: as shipped, else embedded (once)."""
    async with _lock:
        if provider.model_name not in _yardsticks:
            everyday, by_language = yardstick_texts()
            vectors = _read_shipped(provider.model_name, texts_digest(everyday, by_language))
            if vectors is None:
                vectors = await embed_texts(provider)
            per_language, start = {}, len(everyday)
            for language, paragraphs in by_language.items():
                per_language[language] = vectors.passages[start : start + len(paragraphs)]
                start += len(paragraphs)
            level = everyday_level(vectors.passages[: len(everyday)], vectors.questions)
            _yardsticks[provider.model_name] = _Yardsticks(level, per_language)
        return _yardsticks[provider.model_name]


async def background_of(provider: EmbeddingProvider, query: list[float]) -> Background | None:
    """The model's everyday level and the question's closeness to each language's paragraphs;
    None when the provider cannot embed them now (the decision then uses the similarity
    alone, and languages are not compared)."""
    try:
        yardsticks = await _embedded(provider)
    except EmbeddingError:
        return None
    vector = np.asarray(query, dtype=np.float32)
    return Background(
        yardsticks.everyday_level,
        {
            language: float(np.mean(vectors @ vector))
            for language, vectors in yardsticks.by_language.items()
        },
    )


async def ship(provider: EmbeddingProvider) -> Path:
    """Write the provider's vectors of the texts where `_embedded` reads them."""
    path = shipped_path(provider.model_name)
    path.parent.mkdir(exist_ok=True)
    digest = texts_digest(*yardstick_texts())
    vectors = await embed_texts(provider)
    np.savez(path, digest=np.array(digest), vectors=vectors.passages, questions=vectors.questions)
    return path


async def _ship_offline_models() -> None:
    from app.services.embeddings.factory import OFFLINE_MODELS, offline_provider

    for name in OFFLINE_MODELS:
        provider = offline_provider(name)
        print(await ship(provider))
        await provider.aclose()


if __name__ == "__main__":
    asyncio.run(_ship_offline_models())
