"""Answers streamed as server-sent events, stored when complete, or partial on disconnect.

The events are pydantic models, written by `sse()` and described by the same models in the
OpenAPI document (`document_answer_stream`): the stream and its documentation cannot drift.
"""

import asyncio
import functools
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Any, Literal

import anyio
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema
from starlette.types import Receive, Scope, Send

from app.api.errors import ErrorBody, ErrorResponse
from app.api.schemas.conversations import MessagePublic
from app.core.logging import request_id_var
from app.db.errors import NotFoundError
from app.db.models import Message
from app.db.session import UnitOfWork
from app.services.chat import ChatTurn, store_answer
from app.services.llm import Delta, LanguageModel, LanguageModelError, Usage, estimate_usage
from app.services.retrieval import without_invented_citations

logger = logging.getLogger(__name__)


class UserMessageEvent(BaseModel):
    """First: the question, as stored."""

    event: Literal["user_message"]
    data: MessagePublic


class TextDelta(BaseModel):
    text: str = Field(description="The next piece of the answer's text.")


class DeltaEvent(BaseModel):
    """Repeated: the answer's text as it is written; joined, they make the answer."""

    event: Literal["delta"]
    data: TextDelta


class DoneEvent(BaseModel):
    """Last, on success: the answer as stored, with its citations and usage."""

    event: Literal["done"]
    data: MessagePublic


class ErrorEvent(BaseModel):
    """Last, when the language model failed mid-answer (the partial answer is stored)."""

    event: Literal["error"]
    data: ErrorResponse


StreamEvent = UserMessageEvent | DeltaEvent | DoneEvent | ErrorEvent
STREAM_EVENTS: dict[str, type[StreamEvent]] = {
    "user_message": UserMessageEvent,
    "delta": DeltaEvent,
    "done": DoneEvent,
    "error": ErrorEvent,
}
STREAM_EVENT_SCHEMA = "AnswerStreamEvent"
COMPONENTS = "#/components/schemas/"


def sse(event: StreamEvent) -> bytes:
    """The event on the wire: `event: NAME`, then its data as one line of JSON."""
    data = json.dumps(event.model_dump(mode="json")["data"])
    return f"event: {event.event}\ndata: {data}\n\n".encode()


def message_public(message: Message) -> MessagePublic:
    return MessagePublic.model_validate(message)


def document_answer_stream(document: dict[str, Any]) -> None:
    """Add the stream's events to the document's components, as `AnswerStreamEvent` (one of
    them, told apart by `event`) and one schema per event, for the ask operation's
    `text/event-stream` response to refer to."""
    _, definitions = models_json_schema(
        [(model, "serialization") for model in STREAM_EVENTS.values()],
        ref_template=COMPONENTS + "{model}",
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in definitions.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    schemas[STREAM_EVENT_SCHEMA] = {
        "description": "One event of the answer stream: `event: NAME` and `data: JSON` lines.",
        "oneOf": [{"$ref": COMPONENTS + model.__name__} for model in STREAM_EVENTS.values()],
        "discriminator": {
            "propertyName": "event",
            "mapping": {name: COMPONENTS + model.__name__ for name, model in STREAM_EVENTS.items()},
        },
    }


def accepts_event_stream(accept: str) -> bool:
    """Whether an Accept header asks for `text/event-stream` over JSON: named with a quality
    above 0 and at least JSON's (`application/json`, else `application/*`, else `*/*`)."""
    qualities: dict[str, float] = {}
    for media_range in accept.lower().split(","):
        media_type, *parameters = (part.strip() for part in media_range.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        qualities[media_type] = quality
    stream = qualities.get("text/event-stream", 0.0)
    json_quality = next(
        (qualities[t] for t in ("application/json", "application/*", "*/*") if t in qualities),
        0.0,
    )
    return stream > 0 and stream >= json_quality


class AnswerStream(StreamingResponse):
    """A streaming response that always closes its generator, in a shielded scope.

    Whether the client went away (send fails, or the ASGI server reports a disconnect and the
    stream is cancelled) or the stream ended, the generator's cleanup runs to the end, so a
    partial answer is stored rather than lost.
    """

    media_type = "text/event-stream"

    def __init__(self, first: bytes, events: AsyncGenerator[bytes, None], status_code: int) -> None:
        super().__init__(
            _after(first, events),
            status_code=status_code,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._events.aclose()

    @classmethod
    async def started(cls, events: AsyncGenerator[bytes, None], status_code: int) -> "AnswerStream":
        """The response with its generator already run to its first event. A generator closed
        before it started runs none of its clean-up: a client gone before the first byte was
        sent would leave the question unanswered and its tokens set aside."""
        return cls(await anext(events), events, status_code)


async def _after(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    yield first
    async for event in rest:
        yield event


def error_event(code: str, message: str) -> bytes:
    body = ErrorBody(code=code, message=message, request_id=request_id_var.get())
    return sse(ErrorEvent(event="error", data=ErrorResponse(error=body)))


async def store_what_was_streamed(store: Callable[..., Awaitable[Message]]) -> None:
    """The partial answer of a client that went away, unless its conversation went too."""
    try:
        await store(partial=True)
    except NotFoundError:
        logger.info("client disconnected from a conversation deleted meanwhile")
    else:
        logger.info("client disconnected; stored a partial answer")


async def stream_answer(
    turn: ChatTurn, model: LanguageModel, unit_of_work: UnitOfWork, encoding: str
) -> AsyncGenerator[bytes, None]:
    """The answer's events; the answer is stored whatever ends the stream (its end, a failed
    model, a client gone), with what the model was asked and wrote counted: a stream cut
    before the model's own count must not make its tokens free of the daily limit."""
    parts: list[str] = []
    usage: Usage | None = None
    asked = stored = False

    async def store(*, partial: bool, counted: bool) -> Message:
        """Store the answer; `counted`: what was sent to the model counts even if it wrote
        nothing (it was asked, and the client went)."""
        nonlocal stored, usage
        if usage is None and turn.grounded and (counted or parts):
            written = "".join(parts)
            usage = await asyncio.to_thread(estimate_usage, turn.prompt, written, encoding)
        text = turn.not_answered
        if turn.grounded:
            text = without_invented_citations(turn.citations, "".join(parts))
        async with unit_of_work() as session:
            message = await store_answer(session, turn, model, text, usage, partial=partial)
        stored = True  # not before: a store cut short is made again on the way out
        if message is None:  # deleted meanwhile; the usage was kept
            raise NotFoundError("Conversation", turn.conversation.id)
        return message

    try:
        yield sse(UserMessageEvent(event="user_message", data=message_public(turn.user_message)))
        try:
            if not turn.grounded:
                parts.append(turn.not_answered)
                yield sse(DeltaEvent(event="delta", data=TextDelta(text=turn.not_answered)))
            else:
                asked = True
                async with aclosing(model.stream(turn.prompt, turn.passages)) as events:
                    async for event in events:
                        if isinstance(event, Delta):
                            parts.append(event.text)
                            yield sse(DeltaEvent(event="delta", data=TextDelta(text=event.text)))
                        else:
                            usage = event.usage
            with anyio.CancelScope(shield=True):  # a store begun is finished, never made twice
                done = await store(partial=False, counted=True)
            yield sse(DoneEvent(event="done", data=message_public(done)))
        except LanguageModelError as error:
            logger.warning("language model failed mid-stream: %s", error)
            with anyio.CancelScope(shield=True):
                await store(partial=True, counted=False)  # counted only if it wrote
            yield error_event("bad_gateway", error.public_message())
    except NotFoundError as error:  # the conversation was deleted while its answer streamed
        yield error_event("not_found", error.public_message())
    finally:
        if not stored:
            # The client went away (or the task was cancelled) before the end.
            with anyio.CancelScope(shield=True):
                await store_what_was_streamed(functools.partial(store, counted=asked))
