"""YouTubeFetcher against replayed YouTube answers: the real youtube-transcript-api parses them.

The captions it fetches, in the languages asked for, with oEmbed's title or without, and the
replay itself; what fails is in test_youtube_fetcher_failures.py, with this module's helpers.
See testkit/youtube_replay.py and testkit/replay_http.py for how requests are matched; nothing
here reaches the network.
"""

import dataclasses
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from youtube_transcript_api._errors import NoTranscriptFound

from app.services.chunking import Segment
from app.services.youtube.failures import UPLOAD_ROUTE, FailureCode, FetchError
from app.services.youtube.fetcher import FetchedVideo, YouTubeFetcher
from testkit.replay_http import ReplayAdapter
from testkit.youtube_replay import FIXTURE_VIDEO, FIXTURES, fixture_artefacts, replay_session
from testkit.youtube_video_artefacts import Caption, ReplayTrack, ReplayVideo, Status, Step

GERMAN: list[Caption] = [
    (0.0, 3.0, "Guten Tag & willkommen."),
    (3.0, 2.5, "Schön, dass ihr da seid!"),
]


pytestmark = pytest.mark.usefixtures("no_sockets")


def video(
    status: Status = "ok",
    *,
    captions: list[Caption] | None = None,
    is_generated: bool = False,
    extra_tracks: tuple[ReplayTrack, ...] = (),
    failing_step: Step | None = None,
    **changes: Any,
) -> ReplayVideo:
    """The fixture video in another scenario."""
    return dataclasses.replace(
        FIXTURE_VIDEO,
        status=status,
        captions=FIXTURE_VIDEO.captions if captions is None else captions,
        is_generated=is_generated,
        extra_tracks=extra_tracks,
        failing_step=failing_step,
        **changes,
    )


def fetch(
    *videos: ReplayVideo, languages: Sequence[str] = ("en",), oembed_status: int | None = None
) -> tuple[FetchedVideo, ReplayAdapter]:
    session, adapter = replay_session(*videos, oembed_status=oembed_status)
    fetched = YouTubeFetcher(http=session).fetch(videos[0].video_id, languages)
    assert_replayed_only(adapter)
    return fetched, adapter


def fetch_error(replayed: ReplayVideo, languages: Sequence[str] = ("en",)) -> FetchError:
    session, adapter = replay_session(replayed)
    with pytest.raises(FetchError) as caught:
        YouTubeFetcher(http=session).fetch(replayed.video_id, languages)
    assert_replayed_only(adapter)
    return caught.value


def assert_replayed_only(adapter: ReplayAdapter) -> None:
    """Every request was one of the recorded YouTube ones; none fell through the table."""
    assert adapter.requests, "the fetcher made no request at all"
    assert adapter.unmatched == []
    assert all(url.startswith("https://www.youtube.com/") for url in adapter.urls())


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# --- Captions that can be fetched -------------------------------------------------------------


def test_ok_gives_the_segments_with_unescaped_text_and_their_timing() -> None:
    fetched, _ = fetch(FIXTURE_VIDEO)

    assert fetched.segments == [
        Segment("Hello, and welcome.", 0.0, 2.4),
        Segment('Tom & Jerry\'s "cat and mouse" show', 2.4, 3.12),
        Segment("if x > 0 & y < 1, it's fine", 5.52, 2.0),
        Segment("Café crème — ça va?", 7.52, 4.5),
        Segment("Thanks for watching!", 12.02, 1.98),
    ]
    assert fetched.video_id == FIXTURE_VIDEO.video_id
    assert fetched.language_code == "en"
    assert fetched.is_generated is False
    assert fetched.duration == 14  # 12.02 + 1.98


def test_ok_takes_title_and_channel_from_oembed() -> None:
    fetched, adapter = fetch(FIXTURE_VIDEO)

    assert fetched.title == 'Replay & "fixtures": five captions'
    assert fetched.channel_name == "Offline Test Channel"
    oembed = [url for url in adapter.urls() if urlsplit(url).path == "/oembed"]
    assert len(oembed) == 1
    assert query(oembed[0]) == {
        "url": [f"https://www.youtube.com/watch?v={FIXTURE_VIDEO.video_id}"],
        "format": ["json"],
    }


def test_ok_walks_the_library_path_watch_page_player_timedtext_then_oembed() -> None:
    _, adapter = fetch(FIXTURE_VIDEO)

    steps = [(seen.method, urlsplit(seen.url).path) for seen in adapter.requests]
    assert steps == [
        ("GET", "/watch"),
        ("POST", "/youtubei/v1/player"),
        ("GET", "/api/timedtext"),
        ("GET", "/oembed"),
    ]
    timedtext = query(adapter.requests[2].url)
    assert timedtext["lang"] == ["en"]
    assert "fmt" not in timedtext  # the library drops "&fmt=srv3" from the track's baseUrl


def test_generated_captions_are_reported_as_generated() -> None:
    fetched, adapter = fetch(video(is_generated=True))

    assert fetched.is_generated is True
    assert fetched.language_code == "en"
    assert fetched.segments[0].text == "Hello, and welcome."
    assert query(adapter.urls("GET")[1])["kind"] == ["asr"]


def test_blank_captions_are_dropped() -> None:
    captions: list[Caption] = [
        (0.0, 2.0, "first"),
        (2.0, 1.0, "   "),
        (3.0, 1.0, ""),
        (4.0, 2.0, "last"),
    ]
    fetched, _ = fetch(video(captions=captions))

    assert fetched.segments == [Segment("first", 0.0, 2.0), Segment("last", 4.0, 2.0)]
    assert fetched.duration == 6


@pytest.mark.parametrize(
    "captions",
    [[], [(0.0, 1.0, "  "), (1.0, 1.0, "\n")]],
    ids=["no-caption", "blank-captions"],
)
def test_captions_without_any_text_are_a_permanent_failure(captions: list[Caption]) -> None:
    error = fetch_error(video(captions=captions))

    assert error.transient is False
    assert error.code == FailureCode.NO_CAPTIONS
    assert error.reason == "The video's captions are empty"
    assert error.__cause__ is None


def test_the_duration_of_no_segments_is_unknown() -> None:
    empty = FetchedVideo("Rpl4yF1xtr5", "en", False, [], None, None)

    assert empty.duration is None


def test_several_videos_in_one_session_are_told_apart_by_the_player_request_body() -> None:
    other = ReplayVideo("Othr0Video1", "The other one", "Other Channel", [(1.0, 1.0, "other")])
    session, adapter = replay_session(FIXTURE_VIDEO, other)
    fetcher = YouTubeFetcher(http=session)

    second = fetcher.fetch(other.video_id, ["en"])
    first = fetcher.fetch(FIXTURE_VIDEO.video_id, ["en"])

    assert (second.title, second.segments) == ("The other one", [Segment("other", 1.0, 1.0)])
    assert first.title == FIXTURE_VIDEO.title
    assert len(first.segments) == 5
    assert_replayed_only(adapter)


# --- Preferred languages ----------------------------------------------------------------------


def test_the_first_preferred_language_available_wins() -> None:
    bilingual = video(extra_tracks=(ReplayTrack("de", GERMAN),))
    fetched, adapter = fetch(bilingual, languages=["de", "en"])

    assert fetched.language_code == "de"
    assert fetched.segments == [
        Segment("Guten Tag & willkommen.", 0.0, 3.0),
        Segment("Schön, dass ihr da seid!", 3.0, 2.5),
    ]
    timedtext = [url for url in adapter.urls() if "/api/timedtext" in url]
    assert [query(url)["lang"] for url in timedtext] == [["de"]]


def test_falls_back_to_the_next_preferred_language() -> None:
    fetched, _ = fetch(FIXTURE_VIDEO, languages=["de", "en"])

    assert fetched.language_code == "en"
    assert fetched.segments[0].text == "Hello, and welcome."


def test_no_caption_in_a_requested_language_is_permanent_and_names_those_it_has() -> None:
    error = fetch_error(video("no_english"), ["en", "fr"])

    assert error.transient is False
    assert error.code == FailureCode.NO_CAPTIONS
    assert error.reason == "The video has no captions in en, fr; it has captions in de"
    assert error.way_out.startswith('Ask again with "languages": ["de"], or upload')
    assert UPLOAD_ROUTE in error.way_out
    assert isinstance(error.__cause__, NoTranscriptFound)


def test_the_no_english_video_does_have_german_captions() -> None:
    fetched, _ = fetch(video("no_english"), languages=["en", "de"])

    assert fetched.language_code == "de"
    assert fetched.segments[0].text == "Hello, and welcome."


# --- oEmbed -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replayed", "oembed_status"),
    [
        (FIXTURE_VIDEO, 404),
        (FIXTURE_VIDEO, 401),
        (video("server_error", failing_step="oembed"), None),
        (video("network_down", failing_step="oembed"), None),
    ],
    ids=["404", "401", "500", "connection-error"],
)
def test_the_captions_come_back_even_when_oembed_fails(
    replayed: ReplayVideo, oembed_status: int | None
) -> None:
    fetched, adapter = fetch(replayed, oembed_status=oembed_status)

    assert fetched.title is None
    assert fetched.channel_name is None
    assert len(fetched.segments) == 5
    assert urlsplit(adapter.urls()[-1]).path == "/oembed"


# --- The replay itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "http://www.youtube.com/watch?v=Rpl4yF1xtr5",  # right path, wrong scheme
        "https://www.youtube.com/watch?v=Rpl4yF1xtr5&t=10",  # an extra query parameter
        "https://www.youtube.com/watch?v=Unknown0000",
    ],
)
def test_an_unrecorded_request_fails_loudly_and_is_kept(url: str) -> None:
    session, adapter = replay_session(FIXTURE_VIDEO)

    with pytest.raises(requests.ConnectionError, match="replay: no recorded response"):
        session.get(url)

    assert [seen.url for seen in adapter.unmatched] == [url]


def test_the_player_is_answered_only_for_the_video_in_its_body() -> None:
    session, adapter = replay_session(FIXTURE_VIDEO)
    player = adapter.routes[1]

    ok = session.post(
        player.url, params=dict(player.query), json={"videoId": FIXTURE_VIDEO.video_id}
    )
    assert ok.json()["videoDetails"]["videoId"] == FIXTURE_VIDEO.video_id
    with pytest.raises(requests.ConnectionError):
        session.post(player.url, params=dict(player.query), json={"videoId": "Unknown0000"})
    assert len(adapter.unmatched) == 1


def test_the_stored_fixtures_are_what_the_replay_serves() -> None:
    """Regenerate with `.venv/bin/python -m testkit.youtube_replay` after changing the shapes."""
    for name, text in fixture_artefacts().items():
        assert (FIXTURES / name).read_text(encoding="utf-8") == text, name
    assert (FIXTURES / "README.md").is_file()
