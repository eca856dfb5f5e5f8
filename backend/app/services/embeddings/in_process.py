"""What the embedding models run in this process share: each is loaded on first use and kept for
the process, and runs on one dedicated thread. The engines release the GIL while they compute, so
the event loop keeps running; the thread takes one batch at a time, so a question asked during a
long ingest waits for one batch at most."""

import asyncio
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

ModelT = TypeVar("ModelT")
T = TypeVar("T")


class InProcessModel(ABC, Generic[ModelT]):
    """A model loaded by `_load` on first use (`_loaded`), run on the inference thread (`_run`)."""

    def __init__(self, threads: int | None = None) -> None:
        # The engine's own threads for one run: the cores, up to four.
        self._threads = threads or max(1, min(4, os.cpu_count() or 1))
        self._model: ModelT | None = None
        self._load_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embeddings")

    @abstractmethod
    def _load(self) -> ModelT:
        """The model, ready to run: called once, on the inference thread."""

    def _loaded(self) -> ModelT:
        with self._load_lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        with self._load_lock:
            self._model = None
