"""HEAD answered wherever GET is, as HTTP asks of every server (RFC 9110, section 9.3.2).

Starlette's own routes do this; FastAPI's do not (fastapi/fastapi#1773), so a HEAD request for
`/health` or the page would be refused with 405, and uptime monitors and link checkers, which
probe with HEAD, would report a working service down. Every router of the app is built by
`api_router`, with `route_class=GetAndHeadRoute`.

A HEAD request runs the GET endpoint, so its status and headers (`Content-Length`, the
Content-Security-Policy of a page) are those of the GET; the ASGI server sends no body, as for
Starlette's routes. A streamed answer (server-sent events) is ended after its headers: it would
otherwise run on, sending what nobody reads. OpenAPI lists GET alone: HEAD is implied by it.
"""

from functools import cached_property
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, QueryParams
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from app.api.errors import error_responses

DISCONNECT: Message = {"type": "http.disconnect"}
EXTRA_FORBIDDEN = "Extra inputs are not permitted"  # pydantic's words for an unknown field


class GetAndHeadRoute(APIRoute):
    def answers_head(self, scope: Scope) -> bool:
        is_head = scope["type"] == "http" and scope["method"] == "HEAD"
        return is_head and "GET" in (self.methods or ())

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.answers_head(scope):
            return super().matches({**scope, "method": "GET"})
        return super().matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.answers_head(scope):
            await super().handle(scope, receive, send)
            return
        ended = False
        gone_by_send = _reports_a_gone_client_by_send(scope)

        async def send_until_ended(message: Message) -> None:
            nonlocal ended
            if ended:
                if gone_by_send:
                    raise OSError("the answer to HEAD has ended")
                return
            await send(message)
            if message["type"] == "http.response.start" and not _has_length(message):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                ended = True

        async def receive_until_ended() -> Message:
            # Once ended, the stream hears that its client is gone, and stops (before ASGI 2.4).
            return DISCONNECT if ended else await receive()

        # The endpoint runs as for GET; the ASGI server, holding the request's own scope,
        # knows it is HEAD and sends no body.
        as_get = {**scope, "method": "GET"}
        await super().handle(as_get, receive_until_ended, send_until_ended)


def _reports_a_gone_client_by_send(scope: Scope) -> bool:
    """From ASGI 2.4 a server tells that the client is gone by failing `send` with OSError, and
    Starlette's streams stop on it instead of listening for a disconnect on `receive`."""
    version = scope.get("asgi", {}).get("spec_version", "2.0")
    return tuple(int(part) for part in version.split(".")) >= (2, 4)


def _has_length(start: Message) -> bool:
    return "content-length" in Headers(raw=start.get("headers", []))


class ApiRoute(GetAndHeadRoute):
    """A route of the API: a query parameter it does not take is refused (422, naming it), as a
    body's unknown field is, so that `?limt=5` is not answered with the default page as if it
    had been read."""

    @cached_property
    def query_names(self) -> frozenset[str]:
        """The query parameters of the route and of every dependency it has (paging, scope)."""
        names: set[str] = set()
        pending = [self.dependant]
        while pending:
            dependant = pending.pop()
            names.update(parameter.alias for parameter in dependant.query_params)
            pending.extend(dependant.dependencies)
        return frozenset(names)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        asked = QueryParams(scope.get("query_string", b"")).keys()
        if unknown := sorted(set(asked) - self.query_names):
            # Answered as every invalid request is (app/api/error_handlers.py), as pydantic
            # words a body's unknown field.
            raise RequestValidationError(
                [
                    {"type": "extra_forbidden", "loc": ("query", name), "msg": EXTRA_FORBIDDEN}
                    for name in unknown
                ]
            )
        await super().handle(scope, receive, send)


def api_router(
    prefix: str, tag: str, *also: int, signed_in: bool = True, any_query: bool = False
) -> APIRouter:
    """The router of one area of the API (`tag`): its routes answer HEAD wherever they answer
    GET, refuse query parameters they do not take (unless `any_query`), and document 401, 403
    and 422 when the caller must be signed in, besides `also`."""
    statuses = (401, 403, 422, *also) if signed_in else also
    return APIRouter(
        prefix=prefix,
        tags=[tag],
        responses=error_responses(*statuses) if statuses else None,
        route_class=GetAndHeadRoute if any_query else ApiRoute,
    )


class Locator:
    """Sets `Location`: where what the request created is read (RFC 9110, section 10.2.2). A
    path, which clients resolve against the request's own URL, so that it holds behind any
    proxy. A route takes it as `locate: Locate` and calls `locate("get_job", job_id=...)`."""

    def __init__(self, request: Request, response: Response) -> None:
        self.request = request
        self.response = response

    def __call__(self, route_name: str, *, on: Response | None = None, **params: UUID) -> None:
        """On the route's response, or on `on` when the route returns a response of its own."""
        path = str(self.request.app.url_path_for(route_name, **params))
        (on or self.response).headers["Location"] = path


Locate = Annotated[Locator, Depends()]
