"""The HTTP side of the offline YouTube replays, shared by the transcript replay
(testkit/youtube_replay.py) and the listing replay (testkit/youtube_listing_replay.py).

`ReplayAdapter` is a requests transport adapter answering from a table of `Route`s, each a
`ReplayResponse`. A request is answered only when its method, scheme, host and path match a
route and its query parameters are exactly the route's (order aside); a route can also require
the JSON body's `videoId` (the innertube player's). Anything else raises
`requests.ConnectionError` and is kept in `ReplayAdapter.unmatched`, so an unexpected request
fails loudly and nothing reaches the network. Every request is recorded in
`ReplayAdapter.requests` (`RequestLog`).

A response with a `network_failure` raises what requests raises when the network fails that way
(`network_error`): the same exception wrapped in the same urllib3 errors, down to the socket's
OSError with its errno, so the code under test classifies exactly what it would meet.
"""

from __future__ import annotations

import errno
import io
import json
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

NetworkFailure = Literal[
    "unreachable",  # no route: [Errno 101] Network is unreachable
    "dns",  # the name does not resolve
    "refused",  # [Errno 111] Connection refused
    "connect_timeout",  # no answer to the connection attempt in time
    "read_timeout",  # connected, then no answer in time
    "reset",  # connected, then the connection was cut: [Errno 104]
]
NETWORK_FAILURES: tuple[NetworkFailure, ...] = get_args(NetworkFailure)


@dataclass(frozen=True)
class ReplayResponse:
    status: int = 200
    body: str = ""
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    # When set, the request raises what requests raises for this failure instead.
    network_failure: NetworkFailure | None = None

    @classmethod
    def json(cls, data: Mapping[str, Any], status: int = 200) -> ReplayResponse:
        return cls(status, json.dumps(data, ensure_ascii=False), "application/json; charset=UTF-8")


@dataclass(frozen=True)
class Route:
    method: str
    url: str  # scheme://host/path, no query
    query: tuple[tuple[str, str], ...]  # every query parameter, sorted
    response: ReplayResponse
    video_id_in_body: str | None = None  # for the innertube player: the JSON body's videoId

    @classmethod
    def build(
        cls,
        method: str,
        url: str,
        response: ReplayResponse,
        *,
        video_id_in_body: str | None = None,
    ) -> Route:
        parts = urlsplit(url)
        return cls(
            method.upper(),
            f"{parts.scheme}://{parts.netloc}{parts.path}",
            sorted_query(parts.query),
            response,
            video_id_in_body,
        )


@dataclass(frozen=True)
class SeenRequest:
    method: str
    url: str
    body: bytes | None
    matched: bool


# The reason phrase of each status a replay answers with.
REASONS = {
    200: "OK",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class RequestLog:
    """The requests a replay was asked, answered or not."""

    requests: list[SeenRequest]

    @property
    def unmatched(self) -> list[SeenRequest]:
        return [seen for seen in self.requests if not seen.matched]

    def urls(self, method: str | None = None) -> list[str]:
        return [seen.url for seen in self.requests if method is None or seen.method == method]


class ReplayAdapter(BaseAdapter, RequestLog):
    """Answers requests from its routes; anything else raises `requests.ConnectionError`."""

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        super().__init__()
        self.routes: list[Route] = list(routes)
        self.requests = []

    def add(self, route: Route) -> None:
        self.routes.append(route)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: object = None,
        verify: object = True,
        cert: object = None,
        proxies: object = None,
    ) -> requests.Response:
        method = (request.method or "GET").upper()
        url = request.url or ""
        body = request.body.encode() if isinstance(request.body, str) else request.body
        if body is not None and not isinstance(body, bytes):
            raise TypeError("replay: streamed request bodies are not supported")
        route = self._find(method, url, body)
        self.requests.append(SeenRequest(method, url, body, matched=route is not None))
        if route is None:
            raise requests.ConnectionError(
                f"replay: no recorded response for {method} {url}", request=request
            )
        if route.response.network_failure is not None:
            raise network_error(route.response.network_failure, request)
        return self._response(request, route.response)

    def close(self) -> None:
        pass

    def _find(self, method: str, url: str, body: bytes | None) -> Route | None:
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}{parts.path}"
        query = sorted_query(parts.query)
        for route in self.routes:
            if (route.method, route.url, route.query) != (method, base, query):
                continue
            if (
                route.video_id_in_body is not None
                and _body_video_id(body) != route.video_id_in_body
            ):
                continue
            return route
        return None

    def _response(
        self, request: requests.PreparedRequest, recorded: ReplayResponse
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = recorded.status
        response.reason = REASONS.get(recorded.status, "")
        response.headers = CaseInsensitiveDict(
            {"Content-Type": recorded.content_type, **dict(recorded.headers)}
        )
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = io.BytesIO(recorded.body.encode("utf-8"))
        response.url = request.url or ""
        response.request = request
        return response


def network_error(
    failure: NetworkFailure, request: requests.PreparedRequest
) -> requests.RequestException:
    """What requests 2.32 over urllib3 2.x raises when `request` fails this way, built as
    `HTTPAdapter.send` builds it: the socket's error inside urllib3's, inside requests'."""
    url = request.url or ""
    host = urlsplit(url).hostname or ""
    if failure == "read_timeout":
        message = "Read timed out. (read timeout=20)"
        timed_out = ReadTimeoutError(None, url, message)  # type: ignore[arg-type]
        return requests.ReadTimeout(timed_out, request=request)
    if failure == "reset":
        reset = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
        return requests.ConnectionError(
            ProtocolError("Connection aborted.", reset), request=request
        )
    reason: Exception
    if failure == "connect_timeout":
        reason = ConnectTimeoutError(None, f"Connection to {host} timed out. (connect timeout=5)")
    elif failure == "dns":
        gaierror = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        reason = NameResolutionError(host, None, gaierror)  # type: ignore[arg-type]
        reason.__cause__ = gaierror
    else:
        number = errno.ENETUNREACH if failure == "unreachable" else errno.ECONNREFUSED
        os_error: OSError = (
            ConnectionRefusedError(number, "Connection refused")
            if failure == "refused"
            else OSError(number, "Network is unreachable")
        )
        reason = NewConnectionError(
            None,  # type: ignore[arg-type]
            f"Failed to establish a new connection: {os_error}",
        )
        reason.__cause__ = os_error
    wrapped = MaxRetryError(None, url, reason)  # type: ignore[arg-type]
    if failure == "connect_timeout":
        return requests.ConnectTimeout(wrapped, request=request)
    return requests.ConnectionError(wrapped, request=request)


def sorted_query(query: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(parse_qsl(query, keep_blank_values=True)))


def _body_video_id(body: bytes | None) -> str | None:
    if not body:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    video_id = data.get("videoId") if isinstance(data, dict) else None
    return video_id if isinstance(video_id, str) else None
