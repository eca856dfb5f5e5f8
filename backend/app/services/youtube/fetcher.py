"""Fetching a video's captions (youtube-transcript-api) and its title (YouTube's oEmbed).

The fetch is blocking (requests); callers run it in a thread. Every failure is raised as a
`FetchError` sorted by `app/services/youtube/failures.py`: what went wrong, whether retrying can
help, and what a person can do instead.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from xml.etree.ElementTree import ParseError

import requests
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from youtube_transcript_api import YouTubeTranscriptApi
from youtube_transcript_api._errors import CouldNotRetrieveTranscript

from app.services.chunking import Segment
from app.services.youtube.failures import (
    empty_captions,
    from_library,
    from_network,
    unreadable_answer,
)

OEMBED_URL = "https://www.youtube.com/oembed"
# YouTube accepts connections in milliseconds from anywhere it is reachable: a short connect
# timeout makes a network that drops packets fail fast; answers may take longer.
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20
TIMEOUT_SECONDS = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)


@dataclass(frozen=True, slots=True)
class FetchedVideo:
    video_id: str
    language_code: str
    is_generated: bool
    segments: list[Segment]
    title: str | None
    channel_name: str | None
    description: str | None = None  # where a video lists its own chapters

    @property
    def duration(self) -> int | None:
        """Seconds to the end of the latest caption (captions may overlap)."""
        if not self.segments:
            return None
        return round(max(segment.start + segment.duration for segment in self.segments))


PLAYER_PATH = "/youtubei/v1/player"


def description_of(response: Response) -> str | None:
    """`videoDetails.shortDescription` of an innertube player answer, if it has one."""
    try:
        details = response.json().get("videoDetails") or {}
    except (ValueError, AttributeError):
        return None
    description = details.get("shortDescription") if isinstance(details, dict) else None
    return description if isinstance(description, str) and description.strip() else None


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


class TranscriptFetcher(Protocol):
    def fetch(self, video_id: str, languages: Sequence[str]) -> FetchedVideo: ...


class YouTubeFetcher:
    """The real fetcher. `http` is injectable so tests can replay recorded responses."""

    def __init__(self, http: requests.Session | None = None) -> None:
        # One fetcher, and so one session, per job: the library is not thread-safe and changes
        # the session (headers, a consent cookie).
        self.http = http or session_with_timeout()
        # The library turns a 429 into an error without the answer: its Retry-After is kept here.
        self.last_response: Response | None = None
        # The library reads the player answer for captions only; its description is kept here.
        self.description: str | None = None
        self.http.hooks["response"].append(self._remember)

    def _remember(self, response: Response, *args: Any, **kwargs: Any) -> None:
        self.last_response = response
        if response.ok and response.request.path_url.startswith(PLAYER_PATH):
            self.description = description_of(response)

    def fetch(self, video_id: str, languages: Sequence[str]) -> FetchedVideo:
        self.last_response, self.description = None, None
        try:
            fetched = YouTubeTranscriptApi(http_client=self.http).fetch(
                video_id, languages=languages
            )
        except CouldNotRetrieveTranscript as error:
            raise from_library(error, self.last_response) from error
        except requests.JSONDecodeError as error:  # a RequestException, but not the network's
            raise unreadable_answer() from error
        except requests.RequestException as error:
            raise from_network(error) from error
        except (ParseError, KeyError, TypeError) as error:
            raise unreadable_answer() from error
        segments = [
            Segment(s.text, s.start, s.duration) for s in fetched.snippets if s.text.strip()
        ]
        if not segments:
            raise empty_captions()
        title, channel = self._title_and_channel(video_id)
        return FetchedVideo(
            video_id=video_id,
            language_code=fetched.language_code,
            is_generated=fetched.is_generated,
            segments=segments,
            title=title,
            channel_name=channel,
            description=self.description,
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
