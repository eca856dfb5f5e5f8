"""How close a question comes to everyday sentences that answer nothing: the yardsticks each
model carries with it, for "not in your videos" and for comparing passages across languages.

Embedding models differ in their range: multilingual-e5 puts almost any two texts above 0.7
in cosine, all-MiniLM spreads them from 0 to 1, and one question sits closer to everything
than another. A fixed similarity threshold therefore declines paraphrases while letting
questions that share a word with the talk through. Measured against the same question's mean
closeness to ~50 sentences on everyday subjects (`background.txt`, several languages), the best
passage of a video that answers stands out by a margin; a passage that merely shares a topic
word does not (README, "How answers are found and declined"). The mean, not the closest one:
a question about baking is close to the one sentence about baking, and a video about baking
must still answer it.

The same model also rates a text in the question's own language higher than an equally
unrelated one in another. `background_by_language.json` holds four paragraphs of everyday
sentences, the same ones in each language, each about as long as a passage: an English question
comes 0.025 closer to the English paragraphs than to the German ones, a Spanish question 0.05
closer to the Spanish than to the English. (Single sentences hide most of it: an English
question is as close to an everyday sentence in German as to one in English.) The question's
mean closeness to each language's paragraphs is what a passage in that language gets for its
language alone (app/services/retrieval/ranking.py).

Embedding these 70 texts costs e5 about 3 s on two cores, on every process's first question.
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


@dataclass(frozen=True, slots=True)
class Background:
    """A question's mean cosine similarity to the everyday sentences, and to the everyday
    paragraphs of each language (by ISO 639-1 code)."""

    everyday: float
    by_language: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Yardsticks:
    everyday: Vectors
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
    return hashlib.sha256(json.dumps([everyday, by_language]).encode()).hexdigest()


def shipped_path(model_name: str) -> Path:
    return SHIPPED_DIR / f"{re.sub(r'[^A-Za-z0-9._-]', '_', model_name)}.npz"


def _read_shipped(model_name: str, digest: str) -> Vectors | None:
    """The model's vectors of the texts as shipped, if made from these very texts."""
    path = shipped_path(model_name)
    if not path.is_file():
        return None
    with np.load(path) as shipped:
        if str(shipped["digest"]) != digest:
            return None
        return np.asarray(shipped["vectors"], dtype=np.float32)


async def embed_texts(provider: EmbeddingProvider) -> Vectors:
    """The provider's vectors of the everyday sentences, then of each language's paragraphs."""
    everyday, by_language = yardstick_texts()
    texts = everyday + [text for texts in by_language.values() for text in texts]
    return np.asarray(await provider.embed_passages(texts), dtype=np.float32)


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
                per_language[language] = vectors[start : start + len(paragraphs)]
                start += len(paragraphs)
            _yardsticks[provider.model_name] = _Yardsticks(vectors[: len(everyday)], per_language)
        return _yardsticks[provider.model_name]


async def background_of(provider: EmbeddingProvider, query: list[float]) -> Background | None:
    """The question's closeness to the background sentences; None when the provider cannot
    embed them now (the decision then uses the similarity alone, and languages are not
    compared)."""
    try:
        yardsticks = await _embedded(provider)
    except EmbeddingError:
        return None
    vector = np.asarray(query, dtype=np.float32)
    return Background(
        float(np.mean(yardsticks.everyday @ vector)),
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
    np.savez(path, digest=np.array(digest), vectors=await embed_texts(provider))
    return path


async def _ship_offline_models() -> None:
    from app.services.embeddings.factory import OFFLINE_MODELS, offline_provider

    for name in OFFLINE_MODELS:
        provider = offline_provider(name)
        print(await ship(provider))
        await provider.aclose()


if __name__ == "__main__":
    asyncio.run(_ship_offline_models())
