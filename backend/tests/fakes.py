"""Stand-in language models for tests that need to see or steer what a model gets and gives."""

import asyncio
from collections.abc import AsyncGenerator, Sequence

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
