"""Replay of YouTube's answers to a playlist or channel listing: yt-dlp's real tab extractor
(`YoutubeTabIE`) parses them offline.

`ReplayRH` is a yt-dlp request handler, the transport `YouTubeLister(transport=...)` takes. It
answers from `ListingRoute`s built here, with the artefacts of
testkit/youtube_listing_artefacts.py for the collections of testkit/youtube_collections.py:

1. GET  https://www.youtube.com/playlist?list=ID, or https://www.youtube.com/@handle/videos
   -> the page (HTML).
2. POST https://www.youtube.com/youtubei/v1/browse?prettyPrint=false with
   {"context": ..., "browseId": "VL" + ID, "params": "wgYCCAA="}
   -> a playlist's first page again, with unavailable (private, deleted) videos shown.
3. POST the same URL with {"context": ..., "continuation": TOKEN} -> the next page.
4. POST https://www.youtube.com/youtubei/v1/navigation/resolve_url with {"url": PAGE} -> what
   yt-dlp asks when the page itself failed.

A request is answered only when its method, scheme, host, path and query are a route's exactly
and, for a POST, when its JSON body's fields other than `context` and `clickTracking` (which
yt-dlp fills from ytcfg) are the route's too. Anything else raises yt-dlp's `TransportError` and
is kept in `ReplayRH.unmatched`, so an unexpected request fails loudly and nothing reaches the
network. A network failure raises what yt-dlp's requests handler raises: requests' exception
(built by `testkit/replay_http.network_error`) inside a `TransportError`.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from yt_dlp.networking import Request, RequestHandler, Response
from yt_dlp.networking.common import Features
from yt_dlp.networking.exceptions import HTTPError, TransportError

from testkit.replay_http import (
    NetworkFailure,
    ReplayResponse,
    RequestLog,
    SeenRequest,
    network_error,
    sorted_query,
)
from testkit.youtube_collections import ReplayChannel, ReplayEntry, ReplayPlaylist
from testkit.youtube_listing_artefacts import (
    YOUTUBE,
    channel_data,
    continuation_if_more,
    continuation_json,
    continuation_token,
    missing_playlist_data,
    page_html,
    playlist_data,
    playlist_video,
    rich_video,
)

BROWSE_URL = f"{YOUTUBE}/youtubei/v1/browse?prettyPrint=false"
RESOLVE_URL = f"{YOUTUBE}/youtubei/v1/navigation/resolve_url?prettyPrint=false"
SHOW_UNAVAILABLE = "wgYCCAA="  # the browse params yt-dlp sends to see unavailable videos
# Fields yt-dlp fills from ytcfg, not from what it asks for.
_CONTEXT_FIELDS = ("context", "clickTracking")


# --- The routes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingRoute:
    method: str
    url: str  # scheme://host/path, no query
    query: tuple[tuple[str, str], ...]  # every query parameter, sorted
    body: tuple[tuple[str, str], ...] | None  # a POST's JSON fields but the client context
    answer: ReplayResponse

    @classmethod
    def get(cls, url: str, answer: ReplayResponse) -> ListingRoute:
        return cls("GET", *_split(url), None, answer)

    @classmethod
    def post(cls, url: str, fields: dict[str, str], answer: ReplayResponse) -> ListingRoute:
        return cls("POST", *_split(url), tuple(sorted(fields.items())), answer)


def playlist_routes(playlist: ReplayPlaylist) -> list[ListingRoute]:
    """The page, the browse that shows unavailable videos, and every continuation page."""
    page = f"{YOUTUBE}/playlist?{urlencode({'list': playlist.playlist_id})}"
    first = ReplayResponse(
        body=page_html(playlist.title, playlist_data(playlist, show_unavailable=False))
    )
    shown = ReplayResponse.json(playlist_data(playlist, show_unavailable=True))
    reload_fields = {"browseId": f"VL{playlist.playlist_id}", "params": SHOW_UNAVAILABLE}
    routes = [ListingRoute.get(page, first), ListingRoute.post(BROWSE_URL, reload_fields, shown)]
    pages = _continuation_routes(
        playlist.playlist_id,
        playlist.page_size,
        playlist.videos,
        lambda index, entry: playlist_video(playlist, index, entry),
    )
    if playlist.continuation_failure is not None and pages:
        pages[0] = dataclasses.replace(pages[0], answer=playlist.continuation_failure)
    return routes + pages


def channel_routes(channel: ReplayChannel) -> list[ListingRoute]:
    """The videos tab's page and every continuation page."""
    page = f"{YOUTUBE}/{channel.handle}/videos"
    first = ReplayResponse(body=page_html(channel.name, channel_data(channel)))
    pages = _continuation_routes(
        channel.channel_id,
        channel.page_size,
        channel.videos,
        lambda _, entry: rich_video(channel, entry),
    )
    return [ListingRoute.get(page, first), *pages]


def missing_playlist_routes(
    playlist_id: str, said: str = "The playlist does not exist."
) -> list[ListingRoute]:
    page = f"{YOUTUBE}/playlist?{urlencode({'list': playlist_id})}"
    answer = ReplayResponse(body=page_html("YouTube", missing_playlist_data(said)))
    return [ListingRoute.get(page, answer)]


def failing_page_routes(page: str, answer: ReplayResponse) -> list[ListingRoute]:
    """A page that fails, and the API call yt-dlp then makes to resolve its URL, failing too
    (a network that is down fails both; YouTube answers 404 to both for a missing channel)."""
    return [
        ListingRoute.get(page, answer),
        ListingRoute.post(RESOLVE_URL, {"url": page}, answer),
    ]


def _continuation_routes(
    list_id: str,
    page_size: int,
    videos: Sequence[ReplayEntry],
    render: Any,
) -> list[ListingRoute]:
    routes = []
    for offset in range(page_size, len(videos), page_size):
        items = [
            render(index, entry)
            for index, entry in enumerate(videos[offset : offset + page_size], start=offset + 1)
        ]
        items += continuation_if_more(list_id, page_size, videos, offset)
        fields = {"continuation": continuation_token(list_id, offset)}
        answer = ReplayResponse.json(continuation_json(items))
        routes.append(ListingRoute.post(BROWSE_URL, fields, answer))
    return routes


def _split(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", sorted_query(parts.query)


# --- The request handler ----------------------------------------------------------------------


class ReplayRH(RequestHandler, RequestLog):  # type: ignore[misc]  # yt-dlp has no type hints
    """Answers yt-dlp's requests from its routes; anything else raises `TransportError`."""

    _SUPPORTED_URL_SCHEMES = ("http", "https")
    _SUPPORTED_PROXY_SCHEMES = ("http", "https")
    _SUPPORTED_FEATURES = (Features.NO_PROXY, Features.ALL_PROXY)

    def __init__(self, routes: Iterable[ListingRoute] = ()) -> None:
        super().__init__(logger=None)
        self.routes: list[ListingRoute] = list(routes)
        self.requests = []

    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies of the POSTs, in order."""
        return [json.loads(seen.body) for seen in self.requests if seen.body]

    def _check_extensions(self, extensions: dict[str, Any]) -> None:
        super()._check_extensions(extensions)
        for name in ("cookiejar", "timeout", "legacy_ssl", "keep_header_casing"):
            extensions.pop(name, None)

    def _send(self, request: Request) -> Response:
        method, url = request.method, request.url
        body = request.data if isinstance(request.data, bytes) else None
        route = self._find(method, url, body)
        self.requests.append(SeenRequest(method, url, body, matched=route is not None))
        if route is None:
            raise TransportError(f"replay: no recorded response for {method} {url}")
        answer = route.answer
        if answer.network_failure is not None:
            raise transport_error(answer.network_failure, method, url)
        headers = {"Content-Type": answer.content_type, **dict(answer.headers)}
        response = Response(io.BytesIO(answer.body.encode()), url, headers, status=answer.status)
        if not 200 <= response.status < 300:
            raise HTTPError(response)  # as yt-dlp's handlers do
        return response

    def _find(self, method: str, url: str, body: bytes | None) -> ListingRoute | None:
        base, query = _split(url)
        fields = _asked_fields(body) if method == "POST" else None
        for route in self.routes:
            if (route.method, route.url, route.query, route.body) == (method, base, query, fields):
                return route
        return None


def _asked_fields(body: bytes | None) -> tuple[tuple[str, str], ...] | None:
    try:
        data = json.loads(body or b"")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return tuple(sorted((k, str(v)) for k, v in data.items() if k not in _CONTEXT_FIELDS))


def transport_error(failure: NetworkFailure, method: str, url: str) -> TransportError:
    """What yt-dlp's requests handler raises when requests fails this way."""
    cause = network_error(failure, requests.Request(method, url).prepare())
    error = TransportError(cause=cause)
    error.__cause__ = cause
    return error
