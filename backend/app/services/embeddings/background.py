"""How close a question comes to everyday sentences that answer nothing: a yardstick for
"not in your videos" that each model carries with it.

Embedding models differ in their range: multilingual-e5 puts almost any two texts above 0.7
in cosine, all-MiniLM spreads them from 0 to 1, and one question sits closer to everything
than another. A fixed similarity threshold therefore declines paraphrases while letting
questions that share a word with the talk through. Measured against the same question's mean
closeness to ~50 sentences on everyday subjects (`background.txt`, several languages), the best
passage of a video that answers stands out by a margin; a passage that merely shares a topic
word does not (README, "How answers are found and declined"). The mean, not the closest one:
a question about baking is close to the one sentence about baking, and a video about baking
must still answer it.
"""

import asyncio
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.services.embeddings.base import EmbeddingError, EmbeddingProvider

BACKGROUND_FILE = Path(__file__).with_name("background.txt")

_vectors: dict[str, npt.NDArray[np.float32]] = {}
_lock = asyncio.Lock()


def background_sentences() -> list[str]:
    lines = BACKGROUND_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


async def _background(provider: EmbeddingProvider) -> npt.NDArray[np.float32]:
    """The background sentences' vectors under the provider's model, embedded once."""
    async with _lock:
        if provider.model_name not in _vectors:
            vectors = await provider.embed_passages(background_sentences())
            _vectors[provider.model_name] = np.asarray(vectors, dtype=np.float32)
        return _vectors[provider.model_name]


async def background_similarity(provider: EmbeddingProvider, query: list[float]) -> float | None:
    """The question's mean cosine similarity to the background sentences; None when the
    provider cannot embed them now (the decision then uses the similarity alone)."""
    try:
        background = await _background(provider)
    except EmbeddingError:
        return None
    return float(np.mean(background @ np.asarray(query, dtype=np.float32)))
