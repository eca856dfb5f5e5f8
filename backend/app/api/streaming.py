"""Answers streamed as server-sent events, stored when complete, or partial on disconnect."""

import json
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import anyio
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.api.deps import UnitOfWorkFactory
from app.api.errors import ErrorBody
from app.api.schemas.conversations import MessagePublic
from app.core.logging import request_id_var
from app.db.models import Message
from app.services.chat import NOT_IN_VIDEOS, ChatTurn, store_answer
from app.services.llm import Delta, LanguageModel, LanguageModelError, Usage

logger = logging.getLogger(__name__)


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def message_event(event: str, message: Message) -> bytes:
    return sse(event, MessagePublic.model_validate(message).model_dump(mode="json"))


class AnswerStream(StreamingResponse):
    """A streaming response that always closes its generator, in a shielded scope.

    Whether the client went away (send fails, or the ASGI server reports a disconnect and the
    stream is cancelled) or the stream ended, the generator's cleanup runs to the end, so a
    partial answer is stored rather than lost.
    """

    media_type = "text/event-stream"

    def __init__(self, content: AsyncGenerator[bytes, None]) -> None:
        super().__init__(content, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._events = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._events.aclose()


async def stream_answer(
    turn: ChatTurn, model: LanguageModel, unit_of_work: UnitOfWorkFactory
) -> AsyncGenerator[bytes, None]:
    yield message_event("user_message", turn.user_message)
    parts: list[str] = []
    usage: Usage | None = None
    stored = False

    async def store(*, partial: bool) -> Message:
        nonlocal stored
        stored = True
        text = "".join(parts) if turn.grounded else NOT_IN_VIDEOS
        async with unit_of_work() as session:
            return await store_answer(session, turn, model, text, usage, partial=partial)

    try:
        if not turn.grounded:
            parts.append(NOT_IN_VIDEOS)
            yield sse("delta", {"text": NOT_IN_VIDEOS})
        else:
            async with aclosing(model.stream(turn.prompt, turn.passages)) as events:
                async for event in events:
                    if isinstance(event, Delta):
                        parts.append(event.text)
                        yield sse("delta", {"text": event.text})
                    else:
                        usage = event.usage
        yield message_event("done", await store(partial=False))
    except LanguageModelError as error:
        logger.warning("language model failed mid-stream: %s", error)
        await store(partial=True)
        body = ErrorBody(
            code="bad_gateway",
            message=f"The language model failed: {error}",
            request_id=request_id_var.get(),
        )
        yield sse("error", {"error": body.model_dump()})
    finally:
        if not stored:
            # The client went away (or the task was cancelled) before the end.
            with anyio.CancelScope(shield=True):
                await store(partial=True)
                logger.info("client disconnected; stored a partial answer")
