"""Stand-in models (language and embedding) for tests that need to see or steer what a model
gets and gives."""

import asyncio
import hashlib
import math
from collections.abc import AsyncGenerator, Sequence

from app.services.embeddings.base import EmbeddingError
from app.services.extract import Passage
from app.services.llm import (
    ChatMessage,
    Completion,
    Delta,
    Finished,
    LanguageModelError,
    StreamEvent,
    Usage,
)


class ScriptedModel:
    """Answers with a fixed text, remembers every prompt, and can fail or stall on demand."""

    provider = "scripted"
    extractive = False
    model = "scripted-1"

    def __init__(self, answer: str = "It bakes at 250 degrees [1].") -> None:
        self.answer = answer
        self.prompts: list[list[ChatMessage]] = []
        self.fail_with: str | None = None
        self.fail_after_pieces: int | None = None
        self.stall_after_pieces: int | None = None
        self.stalled = asyncio.Event()

    def pieces(self) -> list[str]:
        words = self.answer.split(" ")
        return [word + " " for word in words[:-1]] + [words[-1]]

    async def complete(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> Completion:
        self.prompts.append(list(messages))
        if self.fail_with:
            raise LanguageModelError(self.fail_with)
        return Completion(self.answer, Usage(prompt_tokens=100, completion_tokens=10))

    async def stream(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> AsyncGenerator[StreamEvent, None]:
        self.prompts.append(list(messages))
        for number, piece in enumerate(self.pieces()):
            if number == self.fail_after_pieces:
                raise LanguageModelError(self.fail_with or "the stream broke")
            if number == self.stall_after_pieces:
                self.stalled.set()
                await asyncio.Event().wait()  # until the client goes away
            yield Delta(piece)
        yield Finished(Usage(prompt_tokens=100, completion_tokens=10))


class HashingEmbedder:
    """A deterministic embedding provider: each word adds one to a coordinate picked by its
    hash, and the vector is scaled to unit length. Texts sharing words are near each other.
    The next calls to embed_passages take `failures` in order: an error is raised, None passes."""

    def __init__(self, model_name: str = "hashing-64", dimension: int = 64) -> None:
        self.model_name = model_name
        self.dimension = dimension
        self.passage_calls: list[list[str]] = []
        self.failures: list[EmbeddingError | None] = []
        self.closed = False

    def vector(self, text: str) -> list[float]:
        counts = [0.0] * self.dimension
        for word in text.lower().split():
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            counts[int.from_bytes(digest, "big") % self.dimension] += 1.0
        if not any(counts):  # no words: a fixed vector rather than zeros
            counts[0] = 1.0
        norm = math.sqrt(sum(value * value for value in counts))
        return [value / norm for value in counts]

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        self.passage_calls.append(list(texts))
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        return [self.vector(text) for text in texts]

    async def embed_query(self, text: str) -> list[float]:
        return self.vector(text)

    async def aclose(self) -> None:
        self.closed = True
