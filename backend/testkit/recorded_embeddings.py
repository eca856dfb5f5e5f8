"""An embedding model's answers, recorded once and replayed: for the labelled-set test (a
recording in the repository) and `make eval` (one kept in backend/.data).

Embedding the labelled talks' passages with multilingual-e5-small takes about 20 s of CPU on two
cores: the largest single cost of the suite, paid again for the same texts on every run. The
test still stores the talks, cuts and embeds passages and ranks them through the real pipeline;
only the model's forward pass is replayed, for texts the model embedded before. A recording is
kept per model (`model_name`, which names the weights' version): another model, or a text the
recording lacks (chunking changed), is embedded by the model itself, so a stale recording makes
the test slower, never wrong. The labelled-set test also embeds a sample of the replayed texts
live and compares.

Re-record after changing the model, the chunking or the tests' talks or questions:
`RECORD_EMBEDDINGS=1 .venv/bin/pytest tests/retrieval/test_labelled_retrieval.py
tests/retrieval/test_viewer_talks.py`.
"""

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.services.embeddings.base import EmbeddingProvider

RECORD_VARIABLE = "RECORD_EMBEDDINGS"


def _key(side: str, text: str) -> str:
    return f"{side}:{hashlib.sha256(text.encode()).hexdigest()}"


class RecordedEmbeddings:
    """EmbeddingProvider: the recording's vector for a text it holds, the model's otherwise."""

    def __init__(self, model: EmbeddingProvider, recording: Path) -> None:
        self.model = model
        self.recording = recording
        self._vectors = self._read()
        self._used: dict[str, list[float]] = {}
        self.replayed: list[tuple[str, str]] = []  # (side, text) answered from the recording
        self.embedded_live = 0

    @property
    def model_name(self) -> str:
        return self.model.model_name

    @property
    def dimension(self) -> int:
        return self.model.dimension

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        keys = [_key("passage", text) for text in texts]
        missing = [text for text, key in zip(texts, keys, strict=True) if key not in self._vectors]
        for text, vector in zip(missing, await self._live_passages(missing), strict=True):
            self._vectors[_key("passage", text)] = vector
        self.replayed += [("passage", t) for t in texts if t not in missing]
        return [self._use(key) for key in keys]

    async def embed_query(self, text: str) -> list[float]:
        key = _key("query", text)
        if key in self._vectors:
            self.replayed.append(("query", text))
        else:
            self._vectors[key] = await self.model.embed_query(text)
            self.embedded_live += 1
        return self._use(key)

    async def aclose(self) -> None:
        await self.model.aclose()

    def save_if_asked(self) -> bool:
        """With RECORD_EMBEDDINGS set, write every vector this run used as the recording."""
        if not os.environ.get(RECORD_VARIABLE):
            return False
        self.save()
        return True

    def save(self) -> None:
        """Write every vector this run used as the recording."""
        self.recording.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self._used)
        np.savez_compressed(
            self.recording,
            model=np.array(self.model_name),
            keys=np.array(keys),
            vectors=np.array([self._used[key] for key in keys], dtype=np.float32),
        )

    async def _live_passages(self, texts: list[str]) -> list[list[float]]:
        self.embedded_live += len(texts)
        return await self.model.embed_passages(texts) if texts else []

    def _use(self, key: str) -> list[float]:
        self._used[key] = self._vectors[key]
        return self._vectors[key]

    def _read(self) -> dict[str, list[float]]:
        if not self.recording.exists():
            return {}
        with np.load(self.recording) as stored:
            if str(stored["model"]) != self.model.model_name:
                return {}
            vectors = stored["vectors"].astype(np.float64).tolist()
            return dict(zip(stored["keys"].tolist(), vectors, strict=True))
