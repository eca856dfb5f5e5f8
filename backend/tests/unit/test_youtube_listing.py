"""Listing playlists and channels: yt-dlp's real YouTube tab extractor against replayed
answers, across pages, up to a cap, through failures, and the proxy it goes through. The links
people paste are in test_youtube_collection_links.py.

See testkit/youtube_listing_replay.py for what is replayed and how requests are matched; nothing
here reaches the network.
"""

import dataclasses
import socket
import time

import pytest
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    ProtocolError,
    ReadTimeoutError,
)
from yt_dlp import YoutubeDL
from yt_dlp.networking.exceptions import TransportError

from app.services.youtube.failures import (
    COLLECTION_CHECK_LINK,
    COLLECTION_LATER,
    COLLECTION_UPLOAD_INSTEAD,
    FailureCode,
    FetchError,
)
from app.services.youtube.listing import (
    ListedVideo,
    Listing,
    YouTubeLister,
    parse_collection_link,
    proxy_like_requests,
)
from app.services.youtube.listing import _network_failure as network_failure_of
from testkit.replay_http import NetworkFailure, ReplayResponse
from testkit.youtube_collections import (
    BROKEN_PLAYLIST,
    FIFTY_TALKS,
    MISSING_PLAYLIST_ID,
    TALKS_CHANNEL,
)
from testkit.youtube_listing_artefacts import continuation_token
from testkit.youtube_listing_replay import (
    BROWSE_URL,
    SHOW_UNAVAILABLE,
    ListingRoute,
    ReplayRH,
    channel_routes,
    failing_page_routes,
    missing_playlist_routes,
    playlist_routes,
)

PLAYLIST_ID = FIFTY_TALKS.playlist_id
CHANNEL_ID = TALKS_CHANNEL.channel_id
TIMING_BOUND_SECONDS = 2.0  # generous: the 50-video playlist took about 40 ms on 2 cores

pytestmark = pytest.mark.usefixtures("no_sockets")


def list_videos(routes: list[ListingRoute], link: str, cap: int) -> tuple[Listing, ReplayRH]:
    replay = ReplayRH(routes)
    listing = YouTubeLister(transport=replay).list_videos(parse_collection_link(link), cap)
    assert_replayed_only(replay)
    return listing, replay


def listing_error(routes: list[ListingRoute], link: str) -> tuple[FetchError, ReplayRH]:
    replay = ReplayRH(routes)
    with pytest.raises(FetchError) as caught:
        YouTubeLister(transport=replay).list_videos(parse_collection_link(link), 10)
    assert_replayed_only(replay)
    return caught.value, replay


def assert_replayed_only(replay: ReplayRH) -> None:
    """Every request was one of the recorded YouTube ones; none fell through the table."""
    assert replay.requests, "the lister made no request at all"
    assert replay.unmatched == []
    assert all(url.startswith("https://www.youtube.com/") for url in replay.urls())


def continuations_asked(replay: ReplayRH) -> list[str]:
    return [body["continuation"] for body in replay.bodies() if "continuation" in body]


# --- A playlist in two pages ------------------------------------------------------------------


def test_a_playlist_is_listed_in_order_across_its_pages() -> None:
    listing, replay = list_videos(playlist_routes(FIFTY_TALKS), PLAYLIST_ID, cap=100)

    assert [video.video_id for video in listing.videos] == [
        entry.video_id for entry in FIFTY_TALKS.videos
    ]
    assert listing.videos[0] == ListedVideo("pl000000001", "Talk 1", 65)
    assert listing.videos[2].title == 'Q&A: "async" <Python> \u2014 caf\u00e9'
    assert listing.videos[49] == ListedVideo("pl000000050", "Talk 50", 3005)
    assert (listing.kind, listing.source_id) == ("playlist", PLAYLIST_ID)
    assert listing.title == "Fifty talks & a few more"
    assert listing.channel_name == "Replay Talks"
    assert listing.truncated is False
    assert listing.error is None
    assert continuations_asked(replay) == [continuation_token(PLAYLIST_ID, 30)]


def test_private_and_deleted_videos_are_listed_with_the_reason() -> None:
    listing, _ = list_videos(playlist_routes(FIFTY_TALKS), PLAYLIST_ID, cap=100)

    unavailable = {v.video_id: v for v in listing.videos if v.unavailable_reason is not None}
    assert unavailable == {
        "pl000000007": ListedVideo("pl000000007", "[Private video]", None, "private"),
        "pl000000041": ListedVideo("pl000000041", "[Deleted video]", None, "deleted"),
    }


def test_the_page_hides_unavailable_videos_so_the_listing_asks_for_them() -> None:
    _, replay = list_videos(playlist_routes(FIFTY_TALKS), PLAYLIST_ID, cap=100)

    assert replay.requests[0].method == "GET"
    assert replay.urls()[1] == BROWSE_URL
    shown = replay.bodies()[0]
    assert (shown["browseId"], shown["params"]) == (f"VL{PLAYLIST_ID}", SHOW_UNAVAILABLE)
    assert shown["context"]["client"]["clientName"] == "WEB"  # from the page's ytcfg


def test_fifty_videos_list_well_within_the_bound() -> None:
    list_videos(playlist_routes(FIFTY_TALKS), PLAYLIST_ID, cap=100)  # imports, warm caches
    started = time.perf_counter()
    listing, _ = list_videos(playlist_routes(FIFTY_TALKS), PLAYLIST_ID, cap=100)
    elapsed = time.perf_counter() - started

    print(f"\n50-video playlist, 2 pages: listed in {elapsed * 1000:.0f} ms")
    assert len(listing.videos) == 50
    assert elapsed < TIMING_BOUND_SECONDS


# --- A channel and the cap --------------------------------------------------------------------


def test_a_channel_over_the_cap_is_truncated_without_asking_for_more_pages() -> None:
    listing, replay = list_videos(channel_routes(TALKS_CHANNEL), "youtube.com/@replaytalks", 20)

    assert [video.video_id for video in listing.videos] == [
        f"ch{number:09d}" for number in range(1, 21)
    ]
    assert listing.videos[19] == ListedVideo("ch000000020", "Talk 20", 1205)
    assert [v.video_id for v in listing.videos if v.unavailable_reason] == ["ch000000005"]
    assert listing.videos[4].unavailable_reason == "members only"
    assert listing.truncated is True
    assert listing.error is None
    assert (listing.kind, listing.source_id) == ("channel", "@replaytalks")
    assert listing.title == listing.channel_name == "Replay Talks"
    assert replay.urls() == ["https://www.youtube.com/@replaytalks/videos"]


@pytest.mark.parametrize(("cap", "listed", "truncated"), [(40, 40, True), (45, 45, False)])
def test_a_cap_past_the_first_page_follows_the_continuation(
    cap: int, listed: int, truncated: bool
) -> None:
    listing, replay = list_videos(channel_routes(TALKS_CHANNEL), "youtube.com/@replaytalks", cap)

    assert len(listing.videos) == listed
    assert listing.videos[-1].video_id == f"ch{listed:09d}"
    assert listing.truncated is truncated
    assert continuations_asked(replay) == [continuation_token(CHANNEL_ID, 30)]


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        YouTubeLister(transport=ReplayRH()).list_videos(parse_collection_link(PLAYLIST_ID), 0)


# --- Failures ---------------------------------------------------------------------------------


def test_a_failure_midway_keeps_the_videos_listed_and_says_why() -> None:
    listing, replay = list_videos(
        playlist_routes(BROKEN_PLAYLIST), BROKEN_PLAYLIST.playlist_id, 500
    )

    assert [video.video_id for video in listing.videos] == [
        f"br{number:09d}" for number in range(1, 101)
    ]
    assert listing.truncated is False
    assert listing.error is not None
    assert listing.error.code == FailureCode.CONNECTION_LOST
    assert listing.error.transient is True
    assert listing.error.way_out == COLLECTION_LATER
    token = continuation_token(BROKEN_PLAYLIST.playlist_id, 100)
    assert continuations_asked(replay) == [token, token]  # tried, then tried once more


@pytest.mark.parametrize(
    ("answer", "code", "retry_after"),
    [
        (ReplayResponse(network_failure="read_timeout"), FailureCode.TIMEOUT, None),
        (ReplayResponse(500, "Internal Server Error"), FailureCode.UPSTREAM_ERROR, None),
        (
            ReplayResponse(429, "Too Many Requests", headers=(("Retry-After", "120"),)),
            FailureCode.RATE_LIMITED,
            120.0,
        ),
    ],
)
def test_each_midway_failure_is_sorted(
    answer: ReplayResponse, code: FailureCode, retry_after: float | None
) -> None:
    playlist = dataclasses.replace(BROKEN_PLAYLIST, continuation_failure=answer)

    listing, _ = list_videos(playlist_routes(playlist), playlist.playlist_id, 500)

    assert len(listing.videos) == 100
    assert listing.error is not None
    assert (listing.error.code, listing.error.retry_after) == (code, retry_after)


def test_a_playlist_that_does_not_exist_is_not_found() -> None:
    error, replay = listing_error(missing_playlist_routes(MISSING_PLAYLIST_ID), MISSING_PLAYLIST_ID)

    assert error.code == FailureCode.COLLECTION_NOT_FOUND
    assert error.transient is False
    assert error.reason == (
        "YouTube cannot show this playlist or channel (The playlist does not exist)"
    )
    assert error.way_out == COLLECTION_CHECK_LINK
    assert len(replay.requests) == 1  # YouTube said so: nothing is retried


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("This playlist is private.", FailureCode.COLLECTION_NOT_FOUND),
        ("This playlist type is unviewable.", FailureCode.UNREADABLE_ANSWER),
    ],
)
def test_what_youtube_says_instead_of_a_playlist_is_kept(said: str, code: FailureCode) -> None:
    routes = missing_playlist_routes(MISSING_PLAYLIST_ID, said)

    error, _ = listing_error(routes, MISSING_PLAYLIST_ID)

    assert error.code == code
    assert said.rstrip(".") in error.reason


def test_a_channel_that_does_not_exist_is_not_found() -> None:
    not_found = ReplayResponse.json(
        {
            "error": {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
            }
        },
        status=404,
    )
    routes = failing_page_routes("https://www.youtube.com/@nobodyhere/videos", not_found)

    error, _ = listing_error(routes, "https://www.youtube.com/@nobodyhere")

    assert error.code == FailureCode.COLLECTION_NOT_FOUND
    assert "HTTP 404" in error.reason


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        ("unreachable", FailureCode.NETWORK_UNREACHABLE),
        ("dns", FailureCode.NETWORK_UNREACHABLE),
        ("connect_timeout", FailureCode.TIMEOUT),
    ],
)
def test_a_failure_before_any_video_is_raised(failure: NetworkFailure, code: FailureCode) -> None:
    page = f"https://www.youtube.com/playlist?list={PLAYLIST_ID}"
    routes = failing_page_routes(page, ReplayResponse(network_failure=failure))

    error, replay = listing_error(routes, PLAYLIST_ID)

    assert error.code == code
    expected_way_out = COLLECTION_LATER if error.transient else COLLECTION_UPLOAD_INSTEAD
    assert error.way_out == expected_way_out
    assert len(replay.requests) == 4  # the page twice, then the API's URL resolution twice


def test_a_request_the_replay_does_not_know_fails_loudly() -> None:
    """Nothing falls through to the network: the unknown request fails, and is kept."""
    routes = [
        route
        for route in playlist_routes(FIFTY_TALKS)
        if route.body is None or "continuation" not in dict(route.body)
    ]
    replay = ReplayRH(routes)

    listing = YouTubeLister(transport=replay).list_videos(parse_collection_link(PLAYLIST_ID), 100)

    assert len(listing.videos) == 30
    assert listing.error is not None
    assert listing.error.code == FailureCode.CONNECTION_LOST
    assert "replay: no recorded response for POST" in listing.error.reason
    assert [seen.url for seen in replay.unmatched] == [BROWSE_URL, BROWSE_URL]


# --- The proxy --------------------------------------------------------------------------------

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_yt_dlp_alone_would_send_https_through_http_proxy(
    no_proxy_variables: pytest.MonkeyPatch,
) -> None:
    """The rule `proxy_like_requests` exists for (so that its comment stays true)."""
    no_proxy_variables.setenv("HTTP_PROXY", "http://proxy.invalid:3128")

    assert YoutubeDL({"quiet": True}, auto_init=False).proxies["https"] == (
        "http://proxy.invalid:3128"
    )
    assert proxy_like_requests() == ""


def test_without_a_transport_yt_dlp_keeps_its_own_handlers_and_gets_that_proxy(
    no_proxy_variables: pytest.MonkeyPatch,
) -> None:
    """The production path: requests carries the listing (so its errors are sorted as the
    fetcher's), through the proxy requests would pick."""
    no_proxy_variables.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")

    with YouTubeLister()._youtube_dl() as ydl:
        assert "Requests" in ydl._request_director.handlers
        assert ydl.proxies == {"all": "http://proxy.invalid:3128"}


@pytest.mark.parametrize(
    ("variables", "proxy"),
    [
        ({}, ""),
        ({"HTTPS_PROXY": "http://proxy.invalid:3128"}, "http://proxy.invalid:3128"),
        ({"https_proxy": "http://lower.invalid:3128"}, "http://lower.invalid:3128"),
        ({"ALL_PROXY": "socks5h://proxy.invalid:1080"}, "socks5h://proxy.invalid:1080"),
        ({"HTTPS_PROXY": "http://proxy.invalid:3128", "NO_PROXY": "youtube.com"}, ""),
    ],
)
def test_the_proxy_is_the_one_requests_would_use(
    no_proxy_variables: pytest.MonkeyPatch, variables: dict[str, str], proxy: str
) -> None:
    for name, value in variables.items():
        no_proxy_variables.setenv(name, value)

    assert proxy_like_requests() == proxy


@pytest.mark.parametrize(
    ("cause", "code", "reason"),
    [
        (
            NameResolutionError(
                "www.youtube.com",
                HTTPSConnection("www.youtube.com"),
                socket.gaierror(-2, "Name or service not known"),
            ),
            FailureCode.NETWORK_UNREACHABLE,
            "Could not reach YouTube from this server (DNS lookup of YouTube failed)",
        ),
        (
            ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")),
            FailureCode.CONNECTION_LOST,
            None,
        ),
        (
            ReadTimeoutError(HTTPSConnectionPool("www.youtube.com"), "/playlist", "timed out"),
            FailureCode.TIMEOUT,
            None,
        ),
        (
            ConnectTimeoutError("Connection to www.youtube.com timed out."),
            FailureCode.TIMEOUT,
            None,
        ),
    ],
)
def test_a_urllib3_error_past_requests_is_sorted_in_words_of_our_own(
    cause: Exception, code: FailureCode, reason: str | None
) -> None:
    """yt-dlp also wraps urllib3's errors that got past requests: they are sorted as the
    fetcher sorts requests' own, and the library's wording (`HTTPSConnection(host=…)`) is not
    shown."""
    error = network_failure_of(TransportError(cause=cause))

    assert error.code == code
    assert "HTTPSConnection" not in error.reason
    if reason is not None:
        assert error.reason == reason
