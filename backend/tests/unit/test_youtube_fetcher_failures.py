"""YouTubeFetcher's failures against replayed YouTube answers: the real youtube-transcript-api
meets them, and each becomes a `FetchError` that says whether retrying can help, why, and what
to do instead.

See testkit/youtube_replay.py and testkit/replay_http.py for how requests are matched; nothing
here reaches the network.
"""

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from youtube_transcript_api._errors import (
    AgeRestricted,
    CouldNotRetrieveTranscript,
    IpBlocked,
    PoTokenRequired,
    RequestBlocked,
    TranscriptsDisabled,
    VideoUnavailable,
    VideoUnplayable,
    YouTubeRequestFailed,
)

from app.services.youtube.failures import UPLOAD_ROUTE, FailureCode, FetchError
from app.services.youtube.fetcher import YouTubeFetcher, session_with_timeout
from testkit.replay_http import NetworkFailure
from testkit.youtube_replay import FIXTURE_VIDEO, replay_session
from testkit.youtube_video_artefacts import Status, Step
from tests.unit.test_youtube_fetcher import fetch_error, video

pytestmark = pytest.mark.usefixtures("no_sockets")

PERMANENT_CASES: list[tuple[Status, type[CouldNotRetrieveTranscript], FailureCode, str]] = [
    ("transcripts_disabled", TranscriptsDisabled, FailureCode.NO_CAPTIONS, "has no captions"),
    ("unavailable", VideoUnavailable, FailureCode.VIDEO_UNAVAILABLE, "removed, or the id is"),
    ("private", VideoUnplayable, FailureCode.VIDEO_UNAVAILABLE, ": This video is private"),
    ("age_restricted", AgeRestricted, FailureCode.VIDEO_UNAVAILABLE, "age-restricted"),
    ("bot_detected", RequestBlocked, FailureCode.BLOCKED, "confirm it is not a bot"),
    ("po_token", PoTokenRequired, FailureCode.BLOCKED, "proof-of-origin token"),
    ("forbidden", YouTubeRequestFailed, FailureCode.BLOCKED, "refused the request with HTTP 403"),
]


@pytest.mark.parametrize(("status", "library_error", "code", "reason"), PERMANENT_CASES)
def test_failures_retrying_cannot_fix_say_why_and_what_to_do_instead(
    status: Status, library_error: type[CouldNotRetrieveTranscript], code: FailureCode, reason: str
) -> None:
    error = fetch_error(video(status))

    assert error.transient is False
    assert error.code == code
    assert reason in error.reason
    assert type(error.__cause__) is library_error
    assert error.message == f"{error.reason}. {error.way_out}"
    assert UPLOAD_ROUTE in error.message


def test_a_private_video_keeps_youtubes_reason_on_the_library_error() -> None:
    error = fetch_error(video("private"))

    assert isinstance(error.__cause__, VideoUnplayable)
    assert error.__cause__.reason == "This video is private"
    assert error.__cause__.sub_reasons == [
        "If the owner of this video has granted you access, please sign in."
    ]


RATE_LIMITED = "YouTube is limiting this server's requests (HTTP 429)"
CAPTCHA = "YouTube answered with a CAPTCHA page: too many requests from this server's address"
SERVER_ERROR = "YouTube's server answered HTTP 500"
TRANSIENT_CASES: list[tuple[Status, Step | None, type[Exception], FailureCode, str]] = [
    ("rate_limited", "watch", IpBlocked, FailureCode.RATE_LIMITED, RATE_LIMITED),
    ("rate_limited", "player", IpBlocked, FailureCode.RATE_LIMITED, RATE_LIMITED),
    ("rate_limited", "timedtext", IpBlocked, FailureCode.RATE_LIMITED, RATE_LIMITED),
    ("recaptcha", None, IpBlocked, FailureCode.RATE_LIMITED, CAPTCHA),
    ("server_error", "watch", YouTubeRequestFailed, FailureCode.UPSTREAM_ERROR, SERVER_ERROR),
    ("server_error", "player", YouTubeRequestFailed, FailureCode.UPSTREAM_ERROR, SERVER_ERROR),
    ("server_error", "timedtext", YouTubeRequestFailed, FailureCode.UPSTREAM_ERROR, SERVER_ERROR),
]


@pytest.mark.parametrize(("status", "step", "library_error", "code", "reason"), TRANSIENT_CASES)
def test_passing_failures_are_worth_retrying(
    status: Status,
    step: Step | None,
    library_error: type[Exception],
    code: FailureCode,
    reason: str,
) -> None:
    error = fetch_error(video(status, failing_step=step))

    assert error.transient is True
    assert error.code == code
    assert error.reason == reason
    assert type(error.__cause__) is library_error
    assert error.retry_after is None  # YouTube said nothing
    assert error.way_out.startswith("Ask again later, or upload")


@pytest.mark.parametrize(
    ("status", "step", "server_status"),
    [("rate_limited", "watch", 429), ("rate_limited", "player", 429), ("server_error", None, 503)],
)
def test_the_wait_youtube_asks_for_is_kept(
    status: Status, step: Step | None, server_status: int
) -> None:
    error = fetch_error(
        video(status, failing_step=step, server_status=server_status, retry_after="120")
    )

    assert error.transient is True
    assert error.retry_after == 120.0
    assert f"HTTP {server_status}" in error.reason


UNREACHABLE = "Could not reach YouTube from this server"
NETWORK_CASES: list[tuple[NetworkFailure, FailureCode, str]] = [
    ("unreachable", FailureCode.NETWORK_UNREACHABLE, f"{UNREACHABLE} (network unreachable)"),
    ("refused", FailureCode.NETWORK_UNREACHABLE, f"{UNREACHABLE} (connection refused)"),
    (
        "dns",
        FailureCode.NETWORK_UNREACHABLE,
        f"{UNREACHABLE} (DNS lookup of www.youtube.com failed)",
    ),
    ("connect_timeout", FailureCode.TIMEOUT, "www.youtube.com did not accept a connection in time"),
    ("read_timeout", FailureCode.TIMEOUT, "www.youtube.com did not answer in time"),
    ("reset", FailureCode.CONNECTION_LOST, "The connection to www.youtube.com was cut"),
]


@pytest.mark.parametrize("step", ["watch", "player", "timedtext"])
@pytest.mark.parametrize(("failure", "code", "reason"), NETWORK_CASES)
def test_network_failures_are_told_apart(
    step: Step, failure: NetworkFailure, code: FailureCode, reason: str
) -> None:
    error = fetch_error(video("network_down", failing_step=step, network_failure=failure))

    assert error.code == code
    assert error.reason.startswith(reason)
    assert error.transient is (code != FailureCode.NETWORK_UNREACHABLE)
    assert isinstance(error.__cause__, requests.RequestException)


def test_an_unreachable_network_says_the_way_out() -> None:
    error = fetch_error(video("network_down"))

    assert error.message == (
        "Could not reach YouTube from this server (network unreachable). Upload the video's "
        "captions instead: POST /api/v1/transcripts/upload (an SRT or WebVTT file)."
    )


def test_a_server_error_keeps_the_status_on_the_library_error() -> None:
    error = fetch_error(video("server_error", failing_step="timedtext"))

    assert isinstance(error.__cause__, YouTubeRequestFailed)
    assert error.__cause__.reason.startswith("500 Server Error: Internal Server Error for url:")
    assert "/api/timedtext" in error.__cause__.reason


def test_the_failure_happens_where_the_scenario_says() -> None:
    session, adapter = replay_session(video("rate_limited", failing_step="player"))
    with pytest.raises(FetchError):
        YouTubeFetcher(http=session).fetch(FIXTURE_VIDEO.video_id, ["en"])

    assert [urlsplit(url).path for url in adapter.urls()] == ["/watch", "/youtubei/v1/player"]


def test_an_empty_timedtext_answer_is_an_unreadable_answer() -> None:
    """YouTube answered timedtext requests with an empty 200 when it wanted a PO token
    (youtube-transcript-api issues #414, #445); the library 1.2.5 still raises a bare ParseError.
    The next attempt gets the same answer, so it is not retried.
    """
    error = fetch_error(video("empty_timedtext"))

    assert error.code == FailureCode.UNREADABLE_ANSWER
    assert error.transient is False


def test_every_request_waits_5_s_to_connect_and_20_s_for_an_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A network that drops packets fails its connection in 5 s, not 20."""
    timeouts: list[object] = []

    def send(self: HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any) -> None:
        timeouts.append(kwargs["timeout"])
        raise requests.ConnectionError("stopped before the network", request=request)

    monkeypatch.setattr(HTTPAdapter, "send", send)
    with pytest.raises(requests.ConnectionError):
        session_with_timeout().get("https://www.youtube.com/watch?v=Rpl4yF1xtr5")

    assert timeouts == [(5, 20)]
