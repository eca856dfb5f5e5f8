"""Why fetching a video's captions failed: a code for programs, a reason and a way out for people.

Every failure is sorted once, here, into what retrying can fix and what it cannot:

- this server cannot reach YouTube at all (the name does not resolve, the connection is refused,
  there is no route, a proxy or TLS interception stands in the way): waiting does not help;
- the video gives no captions (none at all or none in the languages asked, private, removed,
  age-restricted), or YouTube refuses this server outright (a bot check, a proof-of-origin
  token, another 4xx), or its answer cannot be read: the same next time;
- YouTube had a passing problem (a timeout, HTTP 429 or a CAPTCHA page, a 5xx, a connection cut
  mid-answer): worth retrying, after the `Retry-After` it sent when it sent one.

A failure that ends the job names the way out: upload the captions (`UPLOAD_INSTEAD`), or ask
again in a language the video has.

Listing a playlist's or a channel's videos (`app/services/youtube/listing.py`) fails in the same
ways, plus one of its own: the playlist or channel does not exist or is private
(`COLLECTION_NOT_FOUND`). `for_collection` gives such a failure a way out that fits a collection.
"""

import errno
import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError
from urllib3.exceptions import ProxyError as Urllib3ProxyError
from youtube_transcript_api._errors import (
    AgeRestricted,
    CouldNotRetrieveTranscript,
    InvalidVideoId,
    IpBlocked,
    NoTranscriptFound,
    PoTokenRequired,
    RequestBlocked,
    TranscriptsDisabled,
    VideoUnavailable,
    VideoUnplayable,
    YouTubeRequestFailed,
)

UPLOAD_ROUTE = "POST /api/v1/transcripts/upload"
UPLOAD_INSTEAD = f"Upload the video's captions instead: {UPLOAD_ROUTE} (an SRT or WebVTT file)."
LATER_OR_UPLOAD = f"Ask again later, or upload the video's captions: {UPLOAD_ROUTE}."
COLLECTION_LATER = "Ask again later."
COLLECTION_UPLOAD_INSTEAD = f"Upload the videos' captions instead, one file each: {UPLOAD_ROUTE}."
COLLECTION_CHECK_LINK = (
    "Check the link: the playlist or channel must exist and be public or unlisted "
    "(YouTube shows private ones only to their owner)."
)


class FailureCode(StrEnum):
    NETWORK_UNREACHABLE = "network_unreachable"
    TIMEOUT = "timeout"
    CONNECTION_LOST = "connection_lost"
    RATE_LIMITED = "rate_limited"
    UPSTREAM_ERROR = "upstream_error"
    BLOCKED = "blocked"
    UNREADABLE_ANSWER = "unreadable_answer"
    NO_CAPTIONS = "no_captions"
    VIDEO_UNAVAILABLE = "video_unavailable"
    COLLECTION_NOT_FOUND = "collection_not_found"


RETRIED = frozenset(
    {
        FailureCode.TIMEOUT,
        FailureCode.CONNECTION_LOST,
        FailureCode.RATE_LIMITED,
        FailureCode.UPSTREAM_ERROR,
    }
)


class FetchError(Exception):
    """The captions could not be fetched: `code` says why (and whether retrying can help),
    `reason` says it to a person, `way_out` says what they can do instead."""

    def __init__(
        self,
        code: FailureCode,
        reason: str,
        *,
        way_out: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.transient = code in RETRIED
        self.way_out = way_out or (LATER_OR_UPLOAD if self.transient else UPLOAD_INSTEAD)
        self.retry_after = retry_after  # seconds YouTube asked to wait, when it said

    @property
    def message(self) -> str:
        """The reason and the way out, as the failed job shows them."""
        return f"{self.reason}. {self.way_out}"


# --- YouTube's answers, as youtube-transcript-api reports them --------------------------------


def from_library(
    error: CouldNotRetrieveTranscript, last_response: requests.Response | None
) -> FetchError:
    """`last_response` is the last HTTP answer of the fetch: the library drops the 429 it
    turns into IpBlocked, and with it the status and Retry-After."""
    if isinstance(error, IpBlocked):
        return _rate_limited(last_response)
    if isinstance(error, YouTubeRequestFailed):
        failed = getattr(error.__context__, "response", None)
        return _http_failure(failed if failed is not None else last_response)
    if isinstance(error, PoTokenRequired):
        return FetchError(
            FailureCode.BLOCKED,
            "YouTube serves these captions only with a proof-of-origin token, which this "
            "server cannot make",
        )
    if isinstance(error, RequestBlocked):
        return FetchError(
            FailureCode.BLOCKED,
            "YouTube refuses requests from this server: it asks to sign in to confirm it is "
            "not a bot (it often does so for cloud servers' addresses)",
        )
    if isinstance(error, NoTranscriptFound):
        return _not_in_languages(error)
    if isinstance(error, TranscriptsDisabled):
        return FetchError(FailureCode.NO_CAPTIONS, "The video has no captions")
    return _unavailable(error)


def _rate_limited(response: requests.Response | None) -> FetchError:
    if response is None or response.status_code != 429:
        return FetchError(
            FailureCode.RATE_LIMITED,
            "YouTube answered with a CAPTCHA page: too many requests from this server's address",
        )
    return from_http_status(429, response.headers.get("Retry-After"))


def _http_failure(response: requests.Response | None) -> FetchError:
    if response is None:
        return from_http_status(None)
    return from_http_status(response.status_code, response.headers.get("Retry-After"))


def from_http_status(status: int | None, retry_after: str | None = None) -> FetchError:
    """An answer with an error status (None: a 5xx whose status was lost), with the
    `Retry-After` header YouTube sent with it."""
    if status == 429:
        return FetchError(
            FailureCode.RATE_LIMITED,
            "YouTube is limiting this server's requests (HTTP 429)",
            retry_after=retry_after_seconds(retry_after),
        )
    if status is None or status >= 500:
        return FetchError(
            FailureCode.UPSTREAM_ERROR,
            f"YouTube's server answered HTTP {status or '5xx'}",
            retry_after=retry_after_seconds(retry_after),
        )
    return FetchError(FailureCode.BLOCKED, f"YouTube refused the request with HTTP {status}")


def _not_in_languages(error: NoTranscriptFound) -> FetchError:
    asked = list(error._requested_language_codes)  # the library keeps them only privately
    available = sorted({track.language_code for track in error._transcript_data})
    reason = f"The video has no captions in {', '.join(asked)}"
    if not available:
        return FetchError(FailureCode.NO_CAPTIONS, reason)
    return FetchError(
        FailureCode.NO_CAPTIONS,
        f"{reason}; it has captions in {', '.join(available)}",
        way_out=f'Ask again with "languages": {_json_list(available)}, or upload the '
        f"captions you have: {UPLOAD_ROUTE}.",
    )


def _json_list(codes: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{code}"' for code in codes) + "]"


def _unavailable(error: CouldNotRetrieveTranscript) -> FetchError:
    if isinstance(error, VideoUnavailable | InvalidVideoId):
        reason = "The video is unavailable (removed, or the id is wrong)"
    elif isinstance(error, AgeRestricted):
        reason = "The video is age-restricted: YouTube shows its captions only to signed-in users"
    elif isinstance(error, VideoUnplayable):
        said = f": {error.reason}" if error.reason else ""
        reason = f"The video cannot be played (private, members-only or blocked){said}"
    else:
        # A failure the library added after this list was written: name it, do not guess.
        return FetchError(
            FailureCode.UNREADABLE_ANSWER,
            f"YouTube's answer could not be used ({type(error).__name__})",
        )
    return FetchError(
        FailureCode.VIDEO_UNAVAILABLE,
        reason,
        way_out=f"Check the link; if you have the captions, upload them: {UPLOAD_ROUTE}.",
    )


def unreadable_answer() -> FetchError:
    """An empty or reshaped answer (YouTube sends an empty caption body when it wants a
    proof-of-origin token): the same answer comes next time."""
    return FetchError(
        FailureCode.UNREADABLE_ANSWER, "YouTube's answer could not be read (an unexpected format)"
    )


def empty_captions() -> FetchError:
    return FetchError(FailureCode.NO_CAPTIONS, "The video's captions are empty")


# --- Playlists and channels -------------------------------------------------------------------


def collection_not_found(reason: str) -> FetchError:
    """The playlist or channel does not exist, or only its owner may see it."""
    return FetchError(FailureCode.COLLECTION_NOT_FOUND, reason, way_out=COLLECTION_CHECK_LINK)


def for_collection(error: FetchError) -> FetchError:
    """The same failure met while listing a playlist or channel: uploading one video's captions
    is no way out for a list of videos."""
    if error.code == FailureCode.COLLECTION_NOT_FOUND:
        return error
    way_out = COLLECTION_LATER if error.transient else COLLECTION_UPLOAD_INSTEAD
    return FetchError(error.code, error.reason, way_out=way_out, retry_after=error.retry_after)


# --- The network ------------------------------------------------------------------------------

_UNREACHABLE_ERRNOS = {
    errno.ENETUNREACH: "network unreachable",
    errno.ENETDOWN: "network unreachable",
    errno.EHOSTUNREACH: "no route to host",
    errno.EHOSTDOWN: "no route to host",
    errno.ECONNREFUSED: "connection refused",
}


def from_network(error: requests.RequestException) -> FetchError:
    """A request that got no HTTP answer. Only a timeout or a connection cut after it was made
    is worth another try: a name that does not resolve or a connection refused means this
    server has no way to YouTube, and it will not have one in a minute either."""
    host = _host_of(error)
    if isinstance(error, requests.ConnectTimeout):
        return FetchError(FailureCode.TIMEOUT, f"{host} did not accept a connection in time")
    if isinstance(error, requests.Timeout):
        return FetchError(FailureCode.TIMEOUT, f"{host} did not answer in time")
    unreachable = _why_unreachable(error, host)
    if unreachable is not None:
        return FetchError(
            FailureCode.NETWORK_UNREACHABLE,
            f"Could not reach YouTube from this server ({unreachable})",
        )
    if isinstance(error, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return FetchError(
            FailureCode.CONNECTION_LOST,
            f"The connection to {host} was cut ({_innermost(error)})",
        )
    return FetchError(
        FailureCode.UNREADABLE_ANSWER,
        f"YouTube's answer could not be used ({type(error).__name__})",
    )


def _why_unreachable(error: requests.RequestException, host: str) -> str | None:
    if isinstance(error, requests.exceptions.SSLError):
        return "the secure connection failed: a proxy or firewall may be intercepting it"
    for cause in _causes(error):
        if isinstance(cause, NameResolutionError | socket.gaierror):
            return f"DNS lookup of {host} failed"
        if isinstance(cause, Urllib3ProxyError | requests.exceptions.ProxyError):
            return "the proxy could not be reached"
        if isinstance(cause, OSError) and cause.errno in _UNREACHABLE_ERRNOS:
            return _UNREACHABLE_ERRNOS[cause.errno]
    for cause in _causes(error):
        if isinstance(cause, NewConnectionError):
            return "no connection could be made"
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything behind it: requests and urllib3 wrap the socket's error in
    arguments (`ConnectionError(MaxRetryError)`), in `reason` and in `__cause__`."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [*current.args, getattr(current, "reason", None), current.__cause__]
        pending.extend(item for item in inner if isinstance(item, BaseException))


def _innermost(error: BaseException) -> str:
    *_, last = _causes(error)
    return type(last).__name__


def _host_of(error: requests.RequestException) -> str:
    url = error.request.url if error.request is not None else None
    if isinstance(url, bytes):
        url = url.decode(errors="replace")
    return (urlsplit(url).hostname if url else None) or "YouTube"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` in seconds: either form HTTP allows (seconds, or a date); None if absent or
    unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
