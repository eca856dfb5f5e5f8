"""Listing the videos of a YouTube playlist or channel, the building block of collections.

A person pastes a playlist or channel link (`parse_collection_link`); `YouTubeLister` lists its
videos in the collection's order, up to a cap, so that the caller can queue one ingest job per
video. The listing is blocking (yt-dlp over requests): callers run it in a thread.

yt-dlp's YouTube tab extractor does the listing; its result is read unprocessed
(`InfoExtractor.extract`, not `YoutubeDL.extract_info`): its entries are then a lazy generator
that fetches each continuation page when it is reached. Reading stops after cap + 1 videos, so
no page past the cap is fetched and the listing knows whether there were more. This is what
`extract_flat="in_playlist"` and `playlistend` do on yt-dlp's processed path, where a failure in
a continuation page would also discard the videos already listed.

Failures are sorted by `app/services/youtube/failures.py`. A listing that fails before its first
video raises `FetchError`; one that fails midway keeps the videos listed so far and says why in
`Listing.error`.
"""

import logging
import re
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

import requests
import urllib3
from yt_dlp import YoutubeDL
from yt_dlp.networking import RequestHandler
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import ExtractorError, YoutubeDLError

from app.services.youtube.failures import (
    FailureCode,
    FetchError,
    collection_not_found,
    for_collection,
    from_http_status,
    from_network,
    unreadable_answer,
)
from app.services.youtube.fetcher import READ_TIMEOUT_SECONDS
from app.services.youtube.links import SHORT_HOSTS, VIDEO_ID, YOUTUBE_HOSTS, parse_video_id

Kind = Literal["playlist", "channel"]

# The playlists people share: PL (made by someone), UU (a channel's uploads, and its UULF/UUSH
# variants), OL (an album, OLAK5uy_…). Mixes (RD…) are made for each viewer; WL and LL are
# private to their owner.
PLAYLIST_ID = re.compile(r"^(?:PL|UU|OL)[A-Za-z0-9_-]{10,}$")
CHANNEL_ID = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
HANDLE = re.compile(r"^@[\w.-]{3,30}$")  # YouTube's rule, as yt-dlp matches it
LEGACY_NAME = re.compile(r"^[\w.-]{1,100}$")  # the name in /c/… and /user/… links
YOUTUBE_URL = "https://www.youtube.com/"
TAB_EXTRACTOR = "YoutubeTab"

_UNAVAILABLE_TITLES = {"[Private video]": "private", "[Deleted video]": "deleted"}
_UNAVAILABLE_MARKERS = {
    "private": "private",
    "needs_auth": "sign-in required",
    "subscriber_only": "members only",
    "premium_only": "YouTube Premium only",
}
# What YouTube says when a playlist or channel cannot be shown to this server.
_NOT_FOUND_WORDS = ("does not exist", "is private", "not available", "unavailable", "terminated")
# yt-dlp wraps what it expects in YoutubeDLError; a reshaped answer met while the lazy entries
# are read surfaces as the Python error its parsing ran into.
_LIBRARY_ERRORS = (YoutubeDLError, KeyError, TypeError, IndexError, AttributeError)

_log = logging.getLogger(__name__)


# --- Links ------------------------------------------------------------------------------------


class CollectionLinkError(ValueError):
    """A link that names no playlist or channel that can be listed; its text says why."""


@dataclass(frozen=True, slots=True)
class CollectionLink:
    kind: Kind
    source_id: str  # the playlist id; or the channel's @handle, UC… id, c/name or user/name
    url: str  # the playlist's page, or the channel's videos tab


def parse_collection_link(value: str) -> CollectionLink:
    """The playlist or channel `value` links to; CollectionLinkError saying why when it links
    to none."""
    candidate = value.strip()
    if PLAYLIST_ID.match(candidate):
        return playlist_link(candidate)
    url = urlsplit(candidate if "://" in candidate else f"https://{candidate}")
    host = (url.hostname or "").lower()
    if host not in YOUTUBE_HOSTS | SHORT_HOSTS:
        raise _not_a_collection(value, on_youtube=False)
    list_id = parse_qs(url.query).get("list", [None])[0]
    if list_id is not None:
        return playlist_link(_shared_playlist_id(list_id, value))
    link = _channel_link(url.path, value) if host in YOUTUBE_HOSTS else None
    if link is None:
        raise _not_a_collection(value, on_youtube=True)
    return link


def playlist_link(playlist_id: str) -> CollectionLink:
    return CollectionLink("playlist", playlist_id, f"{YOUTUBE_URL}playlist?list={playlist_id}")


def channel_link(source_id: str) -> CollectionLink:
    path = f"channel/{source_id}" if CHANNEL_ID.match(source_id) else source_id
    return CollectionLink("channel", source_id, f"{YOUTUBE_URL}{quote(path, safe='@/')}/videos")


def _shared_playlist_id(list_id: str, value: str) -> str:
    if PLAYLIST_ID.match(list_id):
        return list_id
    if list_id.startswith("RD"):
        raise CollectionLinkError(
            f"{value!r} is a mix: YouTube makes a mix for each viewer, so it has no fixed list "
            "of videos"
        )
    if list_id in ("WL", "LL", "LM"):
        raise CollectionLinkError(
            f"{value!r} is a private list (Watch later, Liked videos): only its owner sees it"
        )
    raise CollectionLinkError(f"not a playlist id YouTube shares (PL…, UU… or OL…): {list_id!r}")


def _channel_link(path: str, value: str) -> CollectionLink | None:
    parts = [unquote(part) for part in path.split("/") if part]
    if parts and HANDLE.match(parts[0]):
        source_id, tab = parts[0], parts[1:]
    elif len(parts) >= 2 and parts[0] == "channel" and CHANNEL_ID.match(parts[1]):
        source_id, tab = parts[1], parts[2:]
    elif len(parts) >= 2 and parts[0] in ("c", "user") and LEGACY_NAME.match(parts[1]):
        source_id, tab = f"{parts[0]}/{parts[1]}", parts[2:]
    else:
        return None
    if tab not in ([], ["videos"]):
        raise CollectionLinkError(
            f"only a channel's videos can be listed: link to the channel or its Videos tab, "
            f"not {value!r}"
        )
    return channel_link(source_id)


def _not_a_collection(value: str, *, on_youtube: bool) -> CollectionLinkError:
    try:
        parse_video_id(value)
    except ValueError:
        if not on_youtube:
            return CollectionLinkError(f"not a YouTube playlist or channel link: {value!r}")
        return CollectionLinkError(
            f"no playlist or channel in {value!r}: paste a playlist's link (…/playlist?list=…) "
            "or a channel's (…/@name)"
        )
    return CollectionLinkError(
        f"{value!r} is a single video, not a playlist or channel: paste the playlist's or the "
        "channel's link"
    )


# --- Listings ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListedVideo:
    video_id: str
    title: str | None
    duration: int | None  # seconds
    unavailable_reason: str | None = None  # "private", "deleted", "members only", …


@dataclass(frozen=True, slots=True)
class Listing:
    kind: Kind
    source_id: str
    title: str | None  # the playlist's title, or the channel's name
    channel_name: str | None  # the channel the playlist belongs to, or the channel listed
    videos: list[ListedVideo]  # in the collection's order, at most the cap
    truncated: bool  # the collection has more videos than the cap
    error: FetchError | None = None  # why the listing stopped midway, when it did


class CollectionLister(Protocol):
    def list_videos(self, link: CollectionLink, cap: int) -> Listing: ...


class YouTubeLister:
    """The real lister. `transport` is injectable so tests can replay recorded answers: a
    yt-dlp `RequestHandler` that then answers every request the listing makes."""

    def __init__(self, transport: RequestHandler | None = None) -> None:
        self.transport = transport

    def list_videos(self, link: CollectionLink, cap: int) -> Listing:
        if cap < 1:
            raise ValueError(f"the cap must be at least 1, not {cap}")
        with self._youtube_dl() as ydl:
            info = _extracted(ydl, link.url)
            videos, truncated, error = _read_videos(info.get("entries") or (), cap)
        if error is not None and not videos:
            raise error
        return Listing(
            kind=link.kind,
            source_id=link.source_id,
            title=info.get("channel") if link.kind == "channel" else info.get("title"),
            channel_name=info.get("channel"),
            videos=videos,
            truncated=truncated,
            error=error,
        )

    def _youtube_dl(self) -> Any:
        # No default extractors (auto_init=False): the tab extractor is the only one used.
        ydl = YoutubeDL(_options(), auto_init=False)
        if self.transport is not None:
            # yt-dlp's own tests swap the request director this way; this one has no handler
            # but `transport`, so no request can reach the network.
            director = ydl.build_request_director([])
            director.add_handler(self.transport)
            ydl._request_director = director
        return ydl


def _options() -> dict[str, Any]:
    return {
        "quiet": True,
        "logger": _log,  # yt-dlp's warnings go to the service's log, not to stderr
        "cachedir": False,  # nothing written to disk
        "proxy": proxy_like_requests(),
        "socket_timeout": READ_TIMEOUT_SECONDS,
        # One more try of a page that failed. yt-dlp's default (3) would hold a worker for eight
        # timeouts when YouTube is unreachable: the page, then the API that resolves its URL,
        # each tried four times.
        "extractor_retries": 1,
    }


def proxy_like_requests(url: str = YOUTUBE_URL) -> str:
    """The proxy requests would use for `url`, from the environment ('' for none).

    yt-dlp reads the same variables (urllib's getproxies, NO_PROXY included) but, unlike
    requests, also sends https:// requests through HTTP_PROXY when HTTPS_PROXY is unset (a
    youtube-dl compatibility rule). Deciding here keeps a listing on the caption fetcher's path.
    """
    proxies = requests.utils.get_environ_proxies(url)
    return requests.utils.select_proxy(url, proxies) or ""


def _extracted(ydl: Any, url: str) -> dict[str, Any]:
    """The tab extractor's unprocessed result for `url`: the first page is fetched here."""
    try:
        info = ydl.get_info_extractor(TAB_EXTRACTOR).extract(url)
    except _LIBRARY_ERRORS as error:
        raise _failure(error) from error
    if not isinstance(info, dict) or info.get("_type") != "playlist":
        raise for_collection(unreadable_answer())
    return info


def _read_videos(entries: Any, cap: int) -> tuple[list[ListedVideo], bool, FetchError | None]:
    """Up to `cap` videos, whether there were more, and why the reading stopped early."""
    videos: list[ListedVideo] = []
    try:
        for entry in entries:
            video = _listed_video(entry)
            if video is None:
                continue
            if len(videos) == cap:
                return videos, True, None
            videos.append(video)
    except _LIBRARY_ERRORS as error:
        return videos, False, _failure(error)
    return videos, False, None


def _listed_video(entry: Any) -> ListedVideo | None:
    """The video an entry stands for; None for what is not a video (a playlist in a channel)."""
    if not isinstance(entry, dict) or entry.get("ie_key") != "Youtube":
        return None
    video_id = entry.get("id")
    if not isinstance(video_id, str) or not VIDEO_ID.match(video_id):
        return None
    title = entry.get("title")
    duration = entry.get("duration")
    return ListedVideo(
        video_id=video_id,
        title=title,
        duration=round(duration) if isinstance(duration, int | float) else None,
        unavailable_reason=_UNAVAILABLE_TITLES.get(title or "")
        or _UNAVAILABLE_MARKERS.get(entry.get("availability") or ""),
    )


# --- yt-dlp's errors, sorted ------------------------------------------------------------------


def _failure(error: Exception) -> FetchError:
    """yt-dlp's error as a `FetchError` with a way out for a collection."""
    cause = getattr(error, "cause", None)  # what ExtractorError wraps: the network's error
    if isinstance(cause, HTTPError):
        sorted_error = _http_failure(cause)
    elif isinstance(cause, TransportError):
        sorted_error = _network_failure(cause)
    elif isinstance(error, ExtractorError) and error.expected:
        sorted_error = _youtube_said(error.orig_msg)
    else:
        sorted_error = unreadable_answer()
    return for_collection(sorted_error)


def _http_failure(error: HTTPError) -> FetchError:
    if error.status == 404:
        return collection_not_found("YouTube has no such playlist or channel (HTTP 404)")
    return from_http_status(error.status, error.response.get_header("Retry-After"))


def _network_failure(error: TransportError) -> FetchError:
    """yt-dlp's requests handler wraps the error requests raised, or one of urllib3's that got
    past requests: sorted as the fetcher sorts it, never in the libraries' own words."""
    cause = error.cause
    if cause is None:  # yt-dlp's own words
        return FetchError(
            FailureCode.CONNECTION_LOST, f"The connection to YouTube was cut ({error.msg})"
        )
    if not isinstance(cause, requests.RequestException):
        cause = as_requests_error(cause)
    return from_network(cause)


def as_requests_error(error: BaseException) -> requests.RequestException:
    """urllib3's error as requests would have raised it, so that one sorting serves both."""
    if isinstance(error, urllib3.exceptions.NewConnectionError):  # a ConnectTimeoutError too
        return requests.ConnectionError(error)
    if isinstance(error, urllib3.exceptions.ConnectTimeoutError):
        return requests.ConnectTimeout(error)
    if isinstance(error, urllib3.exceptions.ReadTimeoutError):
        return requests.ReadTimeout(error)
    return requests.ConnectionError(error)


def _youtube_said(message: str) -> FetchError:
    said = message.removeprefix("YouTube said: ").strip().rstrip(".")
    if any(words in said.lower() for words in _NOT_FOUND_WORDS):
        return collection_not_found(f"YouTube cannot show this playlist or channel ({said})")
    return FetchError(FailureCode.UNREADABLE_ANSWER, f"YouTube's answer could not be used ({said})")
