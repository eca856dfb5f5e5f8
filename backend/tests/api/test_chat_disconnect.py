"""A client that goes away mid-answer: driven at the ASGI level, as a server would report it."""

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import TokenReservation
from app.services.llm import StreamEvent
from testkit.labelled_set import CHUNK_TOKENS
from tests.api.conftest import Account, build_app, client_for, sign_up
from tests.api.talks import ingest_talks
from tests.api.test_chat import OVEN_QUESTION, new_conversation
from tests.fakes import ScriptedModel

Message = dict[str, Any]


def ask_scope(account: Account, conversation_id: str, body: bytes, spec_version: str) -> Message:
    path = f"/api/v1/conversations/{conversation_id}/messages"
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": spec_version},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"accept", b"text/event-stream"),
            (b"authorization", account.headers["Authorization"].encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }


async def prepared_app(session: AsyncSession, model: ScriptedModel) -> tuple[FastAPI, Account, str]:
    app = build_app(session, chunk_tokens=CHUNK_TOKENS)
    app.state.language_model = model
    async with client_for(app) as client:
        account = await sign_up(client)
        await ingest_talks(client, account)
        conversation_id = await new_conversation(client, account)
    return app, account, conversation_id


async def stored_messages(app: FastAPI, account: Account, conversation_id: str) -> list[Message]:
    async with client_for(app) as client:
        response = await client.get(
            f"/api/v1/conversations/{conversation_id}/messages", headers=account.headers
        )
    items: list[Message] = response.json()["items"]
    return items


def deltas(sent: list[Message]) -> str:
    text = ""
    for message in sent:
        for block in message.get("body", b"").decode().split("\n\n"):
            if block.startswith("event: delta"):
                text += json.loads(block.split("data: ", 1)[1])["text"]
    return text


async def test_a_disconnect_reported_by_the_server_leaves_a_stored_partial_answer(
    session: AsyncSession,
) -> None:
    """With its tokens counted, though the model never said how many it used: a client that
    drops every stream before its end must not get answers free of the daily limit."""
    model = ScriptedModel("alpha beta gamma delta")
    model.stall_after_pieces = 2
    app, account, conversation_id = await prepared_app(session, model)
    body = json.dumps({"content": OVEN_QUESTION}).encode()
    gone = asyncio.Event()
    delivered = False
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    request = asyncio.create_task(
        app(ask_scope(account, conversation_id, body, "2.3"), receive, send)
    )
    await asyncio.wait_for(model.stalled.wait(), timeout=10)
    gone.set()
    await asyncio.wait_for(request, timeout=10)

    assert deltas(sent) == "alpha beta "
    question, answer = (await stored_messages(app, account, conversation_id))[-2:]
    assert question["content"] == OVEN_QUESTION
    assert answer["role"] == "assistant"
    assert answer["content"] == "alpha beta "
    assert answer["metadata"]["partial"] is True
    assert answer["metadata"]["citations"]
    assert answer["metadata"]["usage"]["prompt_tokens"] > 100
    assert answer["metadata"]["usage"]["completion_tokens"] >= 2
    async with client_for(app) as client:
        usage = (await client.get("/api/v1/usage", headers=account.headers)).json()
    assert usage["total_tokens"] == answer["metadata"]["usage"]["total_tokens"]


async def test_a_client_gone_before_the_first_byte_still_gets_its_question_closed(
    session: AsyncSession,
) -> None:
    """The server reports the client gone before the stream has sent anything: the answer is
    stored (empty, citing nothing) and the tokens set aside for it are given back, or they
    would count against the day until they lapsed."""
    model = ScriptedModel("alpha beta gamma delta")
    app, account, conversation_id = await prepared_app(session, model)
    body = json.dumps({"content": OVEN_QUESTION}).encode()
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        await asyncio.sleep(0)

    for _ in range(3):
        await asyncio.wait_for(
            app(ask_scope(account, conversation_id, body, "2.3"), receive, send), timeout=10
        )
        delivered = False

    stored = await stored_messages(app, account, conversation_id)
    reserved = await session.scalar(
        select(func.count())
        .select_from(TokenReservation)
        .where(TokenReservation.user_id == uuid.UUID(account.id))
    )
    assert [m["role"] for m in stored[-6:]] == ["user", "assistant"] * 3
    assert all(not m["metadata"].get("citations") for m in stored[-6:] if m["content"] == "")
    assert reserved == 0


@pytest.mark.parametrize("failing_send", [2, 4])
async def test_a_send_that_fails_mid_stream_leaves_a_stored_partial_answer(
    session: AsyncSession, failing_send: int
) -> None:
    model = ScriptedModel("alpha beta gamma delta epsilon")
    app, account, conversation_id = await prepared_app(session, model)
    body = json.dumps({"content": OVEN_QUESTION}).encode()
    sent: list[Message] = []
    bodies = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal bodies
        if message["type"] == "http.response.body":
            bodies += 1
            if bodies > failing_send:
                raise OSError("connection reset by peer")
        sent.append(dict(message))

    run: Callable[[], Awaitable[None]] = lambda: app(  # noqa: E731
        ask_scope(account, conversation_id, body, "2.4"), receive, send
    )
    await asyncio.wait_for(run(), timeout=10)

    answer = (await stored_messages(app, account, conversation_id))[-1]
    assert answer["metadata"]["partial"] is True
    # What reached the client, plus at most the piece whose send failed.
    assert answer["content"].startswith(deltas(sent))
    assert len(answer["content"].split()) <= len(deltas(sent).split()) + 1
    assert "epsilon" not in answer["content"]


class PausingModel(ScriptedModel):
    """Streams two pieces, then waits to be told to go on."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.paused, self.go_on = asyncio.Event(), asyncio.Event()

    async def stream(self, messages: Any, passages: Any) -> AsyncGenerator[StreamEvent, None]:
        async for number, event in aenumerate(super().stream(messages, passages)):
            if number == 2:
                self.paused.set()
                await self.go_on.wait()
            yield event


async def aenumerate(events: AsyncIterator[StreamEvent]) -> AsyncIterator[tuple[int, StreamEvent]]:
    number = 0
    async for event in events:
        yield number, event
        number += 1


async def test_a_conversation_deleted_mid_answer_ends_the_stream_with_an_error_event(
    session: AsyncSession,
) -> None:
    """The answer cannot be stored: the client is told so in the stream's own error event, and
    the response ends as a response should, instead of being cut off."""
    model = PausingModel("alpha beta gamma delta")
    app, account, conversation_id = await prepared_app(session, model)
    body = json.dumps({"content": OVEN_QUESTION}).encode()
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    request = asyncio.create_task(
        app(ask_scope(account, conversation_id, body, "2.4"), receive, send)
    )
    await asyncio.wait_for(model.paused.wait(), timeout=10)
    async with client_for(app) as client:
        deleted = await client.delete(
            f"/api/v1/conversations/{conversation_id}", headers=account.headers
        )
    model.go_on.set()
    await asyncio.wait_for(request, timeout=10)
    async with client_for(app) as client:
        usage = await client.get("/api/v1/usage", params={"days": 1}, headers=account.headers)

    assert deleted.status_code == 204
    # The tokens the model spent count though the answer could not be kept: deleting the
    # conversation before the end must not make them free of the daily limit.
    assert usage.json()["total_tokens"] == 110
    streamed = b"".join(message.get("body", b"") for message in sent).decode()
    assert streamed.count("event: error") == 1
    error = json.loads(streamed.split("event: error\ndata: ", 1)[1].split("\n\n")[0])["error"]
    assert error["code"] == "not_found"
    assert error["message"] == f"Conversation {conversation_id} was not found"
    assert "event: done" not in streamed
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
