"""Fake OpenAI-compatible servers (chat completions, embeddings), served for real on loopback by
uvicorn."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


def failure(request: Request, status: int, message: str) -> Response:
    """An error answer that, like some real servers', echoes the request's address and key."""
    echoed = {"url": str(request.url), "authorization": request.headers.get("authorization")}
    body = {"error": {"message": f"{message} ({status})", "request": echoed}}
    return JSONResponse(body, status, headers={"Retry-After": "0"})


@dataclass
class FakeLLM:
    answer: str = "Bake it at 250 degrees [1]."
    failures: list[int] = field(default_factory=list)  # statuses to answer first, in order
    error_message: str = "fake failure"  # what a failure's body says
    send_usage: bool = True
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def routes(self) -> list[Route]:
        return [Route("/v1/chat/completions", self.completions, methods=["POST"])]

    async def completions(self, request: Request) -> Response:
        payload = await request.json()
        self.requests.append(payload)
        self.headers.append(dict(request.headers))
        if self.failures:
            return failure(request, self.failures.pop(0), self.error_message)
        usage = {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
        if not payload.get("stream"):
            body: dict[str, Any] = {
                "choices": [{"message": {"role": "assistant", "content": self.answer}}]
            }
            if self.send_usage:
                body["usage"] = usage
            return JSONResponse(body)
        return StreamingResponse(self._events(usage), media_type="text/event-stream")

    async def _events(self, usage: dict[str, int]) -> AsyncIterator[str]:
        for word in self.answer.split(" "):
            chunk = {"choices": [{"index": 0, "delta": {"content": word + " "}}]}
            yield f"data: {json.dumps(chunk)}\n\n"
        if self.send_usage:
            yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"


@dataclass
class FakeEmbeddings:
    """Answers /v1/embeddings in reverse order of `index` (clients must sort), with vectors that
    are not unit length (clients must scale them) of `dimensions` (or the length asked for)."""

    dimensions: int = 8
    ignore_requested_dimensions: bool = False
    failures: list[int] = field(default_factory=list)  # statuses to answer first, in order
    error_message: str = "fake failure"
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def routes(self) -> list[Route]:
        return [Route("/v1/embeddings", self.embeddings, methods=["POST"])]

    @staticmethod
    def raw_vector(text: str, dimensions: int) -> list[float]:
        return [float(len(text) + position) for position in range(dimensions)]

    async def embeddings(self, request: Request) -> Response:
        payload = await request.json()
        self.requests.append(payload)
        self.headers.append(dict(request.headers))
        if self.failures:
            return failure(request, self.failures.pop(0), self.error_message)
        dimensions = self.dimensions
        if "dimensions" in payload and not self.ignore_requested_dimensions:
            dimensions = payload["dimensions"]
        data = [
            {"object": "embedding", "index": index, "embedding": self.raw_vector(text, dimensions)}
            for index, text in enumerate(payload["input"])
        ]
        return JSONResponse({"object": "list", "data": data[::-1], "model": payload["model"]})


class FakeServer(Protocol):
    def routes(self) -> list[Route]: ...


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def serving(fake: FakeServer) -> AsyncIterator[str]:
    """Serve `fake` on 127.0.0.1; yields its base URL (ending in /v1)."""
    app = Starlette(routes=fake.routes())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        await task
