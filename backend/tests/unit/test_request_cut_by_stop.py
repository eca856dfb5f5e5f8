"""A request the server's stop cuts (uvicorn cancels it after SHUTDOWN_GRACE_SECONDS) is
answered in the one error shape, not with uvicorn's plain-text 500."""

import asyncio
import json

from starlette.types import Message, Receive, Scope, Send

from app.api.middleware import RequestContextMiddleware


async def never_done(scope: Scope, receive: Receive, send: Send) -> None:
    await asyncio.sleep(3600)


async def started_then_slow(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await asyncio.sleep(3600)


async def cut_while_running(app: RequestContextMiddleware) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/api/v1/transcripts", "headers": []}
    request = asyncio.create_task(app(scope, receive, send))
    await asyncio.sleep(0.05)
    request.cancel()
    await asyncio.wait_for(request, 5)
    return sent


async def test_a_request_cut_before_its_answer_gets_a_503_in_the_error_shape() -> None:
    sent = await cut_while_running(RequestContextMiddleware(never_done))

    start, body = sent
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    error = json.loads(body["body"])["error"]
    assert start["status"] == 503
    assert headers["retry-after"] == "1"
    assert "x-request-id" in headers
    assert error["code"] == "service_unavailable"
    assert error["request_id"] == headers["x-request-id"]


async def test_a_response_already_under_way_is_not_answered_twice() -> None:
    sent = await cut_while_running(RequestContextMiddleware(started_then_slow))

    assert [message["type"] for message in sent] == ["http.response.start"]
