"""Fetching a video's captions (youtube-transcript-api) and its title (YouTube's oEmbed).

The fetch is blocking (requests); callers run it in a thread. Failures are sorted once, here, into
permanent ones (private, removed, no captions: retrying cannot help, the job fails with the
reason) and transient ones (network, rate limits, YouTube's 5xx: the job is retried later).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from xml.etree.ElementTree import ParseError

import requests
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from youtube_transcript_api import YouTubeTranscriptApi
from youtube_transcript_api._errors import (
    AgeRestricted,
    CouldNotRetrieveTranscript,
    InvalidVideoId,
    NoTranscriptFound,
    PoTokenRequired,
    RequestBlocked,
    TranscriptsDisabled,
    VideoUnavailable,
    VideoUnplayable,
    YouTubeDataUnparsable,
    YouTubeRequestFailed,
)

from app.services.chunking import Segment

OEMBED_URL = "https://www.youtube.com/oembed"
TIMEOUT_SECONDS = 20


@dataclass(frozen=True, slots=True)
class FetchedVideo:
    video_id: str
    language_code: str
    is_generated: bool
    segments: list[Segment]
    title: str | None
    channel_name: str | None

    @property
    def duration(self) -> int | None:
        """Seconds to the end of the latest caption (captions may overlap)."""
        if not self.segments:
            return None
        return round(max(segment.start + segment.duration for segment in self.segments))


class TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout: the library sets none, and a stalled connection would
    hold a worker thread forever."""

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = TIMEOUT_SECONDS
        return super().send(request, **kwargs)


def session_with_timeout() -> requests.Session:
    session = requests.Session()
    adapter = TimeoutAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class FetchError(Exception):
    """The captions could not be fetched; `permanent` says whether trying again can help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class TranscriptFetcher(Protocol):
    def fetch(self, video_id: str, languages: Sequence[str]) -> FetchedVideo: ...


_PERMANENT_REASONS: list[tuple[type[CouldNotRetrieveTranscript], str]] = [
    (InvalidVideoId, "the video id is not valid"),
    (AgeRestricted, "the video is age-restricted"),
    (VideoUnavailable, "the video is unavailable (removed, or the id is wrong)"),
    (VideoUnplayable, "the video cannot be played (private, members-only or blocked)"),
    (TranscriptsDisabled, "the video has no captions"),
    (NoTranscriptFound, "the video has no captions in the requested languages"),
]
# Worth another try later: YouTube refused or failed this time.
_TRANSIENT_REASONS: list[tuple[type[CouldNotRetrieveTranscript], str]] = [
    (RequestBlocked, "YouTube is refusing requests from this server for now"),
    (YouTubeRequestFailed, "YouTube's server answered with an error"),
    (PoTokenRequired, "YouTube asked for a proof-of-origin token"),
    (YouTubeDataUnparsable, "YouTube's answer could not be read"),
]


def classify(error: CouldNotRetrieveTranscript) -> FetchError:
    for kind, reason in _PERMANENT_REASONS:
        if isinstance(error, kind):
            return FetchError(reason, permanent=True)
    for kind, reason in _TRANSIENT_REASONS:
        if isinstance(error, kind):
            return FetchError(reason, permanent=False)
    return FetchError(
        f"the captions could not be retrieved ({type(error).__name__})", permanent=False
    )


class YouTubeFetcher:
    """The real fetcher. `http` is injectable so tests can replay recorded responses."""

    def __init__(self, http: requests.Session | None = None) -> None:
        # One fetcher, and so one session, per job: the library is not thread-safe and changes
        # the session (headers, a consent cookie).
        self.http = http or session_with_timeout()

    def fetch(self, video_id: str, languages: Sequence[str]) -> FetchedVideo:
        try:
            fetched = YouTubeTranscriptApi(http_client=self.http).fetch(
                video_id, languages=languages
            )
        except CouldNotRetrieveTranscript as error:
            raise classify(error) from error
        except requests.JSONDecodeError as error:  # a RequestException, but not the network's
            raise FetchError("YouTube's answer could not be read", permanent=False) from error
        except requests.RequestException as error:
            raise FetchError(f"network error: {type(error).__name__}", permanent=False) from error
        except (ParseError, KeyError, TypeError) as error:
            # An empty or reshaped answer (YouTube sends an empty caption body when it wants a
            # proof-of-origin token): not this video's fault, so worth trying again later.
            raise FetchError("YouTube's answer could not be read", permanent=False) from error
        segments = [
            Segment(s.text, s.start, s.duration) for s in fetched.snippets if s.text.strip()
        ]
        if not segments:
            raise FetchError("the video's captions are empty", permanent=True)
        title, channel = self._title_and_channel(video_id)
        return FetchedVideo(
            video_id=video_id,
            language_code=fetched.language_code,
            is_generated=fetched.is_generated,
            segments=segments,
            title=title,
            channel_name=channel,
        )

    def _title_and_channel(self, video_id: str) -> tuple[str | None, str | None]:
        """Title and channel from oEmbed; both None when it fails (they are nice to have)."""
        try:
            response = self.http.get(
                OEMBED_URL,
                params={"url": f"https://www.youtube.com/watch?v={video_id}", "format": "json"},
                timeout=TIMEOUT_SECONDS,
            )
            response.raise_for_status()
            data = response.json()
        except (requests.RequestException, ValueError):
            return None, None
        if not isinstance(data, dict):
            return None, None
        return data.get("title"), data.get("author_name")
