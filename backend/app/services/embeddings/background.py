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
"""

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.services.embeddings.base import EmbeddingError, EmbeddingProvider

BACKGROUND_FILE = Path(__file__).with_name("background.txt")
BY_LANGUAGE_FILE = Path(__file__).with_name("background_by_language.json")

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


async def _embedded(provider: EmbeddingProvider) -> _Yardsticks:
    """The texts' vectors under the provider's model, embedded once, in one call."""
    async with _lock:
        if provider.model_name not in _yardsticks:
            everyday = background_sentences()
            by_language = paragraphs_by_language()
            texts = everyday + [text for texts in by_language.values() for text in texts]
            vectors = np.asarray(await provider.embed_passages(texts), dtype=np.float32)
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
