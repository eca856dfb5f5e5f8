"""A HEAD request for a stream that never ends on its own is answered with the headers and
stops the stream, whichever way the ASGI server reports a client that is gone: by `receive`
(before ASGI 2.4, uvicorn today) or by failing `send` (2.4 on)."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse
from starlette.types import Message

from app.api.middleware import RequestContextMiddleware
from app.api.routing import GetAndHeadRoute


def endless_stream_app(ticks: list[int]) -> RequestContextMiddleware:
    """A route streaming until its client is gone, behind the app's outermost handling of a
    client that left (RequestContextMiddleware), as in app/main.py."""
    router = APIRouter(route_class=GetAndHeadRoute)

    async def events() -> AsyncIterator[bytes]:
        while True:
            ticks.append(1)
            yield b"event: tick\n\n"
            await asyncio.sleep(0.01)

    @router.get("/events")
    async def stream() -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream")

    app = FastAPI()
    app.include_router(router)
    return RequestContextMiddleware(app)


@pytest.mark.parametrize("spec_version", ["2.3", "2.4"])
async def test_a_head_request_ends_an_endless_stream(spec_version: str) -> None:
    ticks: list[int] = []
    sent: list[Message] = []
    answered = asyncio.Event()

    async def receive() -> Message:
        await answered.wait()  # a client reading the headers, then gone
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if spec_version >= "2.4" and answered.is_set():
            raise OSError("the client is gone")
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": spec_version},
        "http_version": "1.1",
        "method": "HEAD",
        "scheme": "http",
        "path": "/events",
        "raw_path": b"/events",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    await asyncio.wait_for(endless_stream_app(ticks)(scope, receive, send), timeout=10)

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 200
    assert sent[1:] == [{"type": "http.response.body", "body": b"", "more_body": False}]
    assert len(ticks) <= 2
