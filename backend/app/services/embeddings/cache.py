"""Vectors of the sentences answers quote from, kept for the process's later answers.

Choosing an offline answer's quotes embeds every sentence of the cited passages: about 0.7 s of
CPU for 40 caption lines with multilingual-e5-small on two cores, most of an answer's cost. The
next question on the same video cites mostly the same passages, so their sentences' vectors are
kept (per model: vectors of two models are never mixed), the least recently used dropped past
a bound. As float32 rows, 10,000 vectors of 384 dimensions take 15 MB.
"""

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from app.services.embeddings.base import EmbeddingProvider

Vectors = npt.NDArray[np.float32]


class PassageVectorCache:
    """embed_passages() through a bounded least-recently-used memory of (model, text)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._vectors: OrderedDict[tuple[str, str], Vectors] = OrderedDict()

    async def embed_passages(self, provider: EmbeddingProvider, texts: Sequence[str]) -> Vectors:
        """One row per text, in order, as the provider embeds passages; only the texts not
        kept are sent to it (once each). Its EmbeddingError passes through."""
        model = provider.model_name
        rows: dict[str, Vectors] = {}
        for text in texts:
            kept = self._vectors.get((model, text))
            if kept is not None:
                self._vectors.move_to_end((model, text))
                rows[text] = kept
        # Taken before the await: another answer may fill the cache meanwhile and drop these.
        missing = [text for text in dict.fromkeys(texts) if text not in rows]
        if missing:
            embedded = np.asarray(await provider.embed_passages(missing), dtype=np.float32)
            for text, row in zip(missing, embedded, strict=True):
                rows[text] = self._vectors[(model, text)] = row
        while len(self._vectors) > self.capacity:
            self._vectors.popitem(last=False)
        if not texts:
            return np.zeros((0, provider.dimension), dtype=np.float32)
        return np.stack([rows[text] for text in texts])
