"""Replay of YouTube's HTTP answers, so tests run youtube-transcript-api's real parsing offline.

`replay_session(*videos)` gives a `requests.Session` whose only adapter, a `ReplayAdapter`
(testkit/replay_http.py), answers from the routes `routes_for` builds for each video, with the
artefacts of testkit/youtube_video_artefacts.py:

1. GET  https://www.youtube.com/watch?v=ID            -> the watch page (HTML).
2. POST https://www.youtube.com/youtubei/v1/player?key=KEY, JSON body {"videoId": ID, ...}
   -> the innertube player JSON (a route per video, told apart by the body's `videoId`).
3. GET  each caption track's `baseUrl` (the library drops `&fmt=srv3` first) -> timedtext XML.
4. GET  https://www.youtube.com/oembed?url=<watch url>&format=json -> title and author_name.

A video's `status` makes one of these fail as YouTube does (a 429, a 5xx, a 403, a reCAPTCHA
page, a network failure, an empty timedtext answer). Any other request fails loudly.

`python -m testkit.youtube_replay` writes the example artefacts kept under
testkit/fixtures/youtube/.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import requests

from testkit.replay_http import REASONS, ReplayAdapter, ReplayResponse, Route
from testkit.youtube_video_artefacts import (
    API_KEY,
    OEMBED_URL,
    PLAYER_URL,
    WATCH_URL,
    ReplayVideo,
    Status,
    Step,
    oembed_json,
    player_json,
    timedtext_xml,
    track_base_url,
    watch_html,
)

# --- The builder ------------------------------------------------------------------------------

_DEFAULT_FAILING_STEP: dict[Status, Step] = {
    "rate_limited": "watch",
    "server_error": "player",
    "forbidden": "watch",
    "network_down": "watch",
}
_NOT_FOUND = ReplayResponse(404, "Not Found")
_SORRY_PAGE = (
    "<html><head><title>Sorry...</title></head><body><div><b>Sorry...</b></div>"
    "<div>We're sorry... but your computer or network may be sending automated queries. "
    "To protect our users, we can't process your request right now.</div></body></html>"
)
_RECAPTCHA_PAGE = (
    '<!DOCTYPE html><html><head><title>YouTube</title><script src="https://www.google.com/'
    'recaptcha/api.js" async defer></script></head><body><form action="/das_captcha" '
    'method="POST"><div class="g-recaptcha" data-sitekey="replay"></div></form></body></html>'
)
_SERVER_ERROR_PAGE = (
    "<!DOCTYPE html><html lang=en><title>Error 500 (Server Error)!!1</title>"
    "<p><b>500.</b> <ins>That's an error.</ins></p></html>"
)


def routes_for(video: ReplayVideo, *, oembed_status: int | None = None) -> list[Route]:
    """Every request the library and the oEmbed lookup make for `video`, answered per status."""
    answers: dict[Step, ReplayResponse] = {
        "watch": ReplayResponse(body=watch_html(video)),
        "player": ReplayResponse.json(player_json(video)),
        "oembed": _oembed_response(video, oembed_status),
    }
    if video.status == "recaptcha":
        answers["watch"] = ReplayResponse(body=_RECAPTCHA_PAGE)
    elif video.status in _DEFAULT_FAILING_STEP:
        answers[video.failing_step or _DEFAULT_FAILING_STEP[video.status]] = _failing_answer(video)

    watch_url = f"{WATCH_URL}?{urlencode({'v': video.video_id})}"
    player_url = f"{PLAYER_URL}?{urlencode({'key': API_KEY})}"
    oembed_query = urlencode({"url": f"{WATCH_URL}?v={video.video_id}", "format": "json"})
    routes = [
        Route.build("GET", watch_url, answers["watch"]),
        Route.build("POST", player_url, answers["player"], video_id_in_body=video.video_id),
        Route.build("GET", f"{OEMBED_URL}?{oembed_query}", answers["oembed"]),
    ]
    if "captions" in player_json(video):
        for track in video.tracks():
            # The library asks for the baseUrl without "&fmt=srv3" (srv3 is another format).
            url = track_base_url(video, track).replace("&fmt=srv3", "")
            answer = answers.get("timedtext") or ReplayResponse(
                body="" if video.status == "empty_timedtext" else timedtext_xml(track.captions),
                content_type="text/xml; charset=UTF-8",
            )
            routes.append(Route.build("GET", url, answer))
    return routes


def _failing_answer(video: ReplayVideo) -> ReplayResponse:
    if video.status == "network_down":
        return ReplayResponse(network_failure=video.network_failure)
    status, page = {
        "rate_limited": (429, _SORRY_PAGE),
        "forbidden": (403, "Forbidden"),
    }.get(video.status, (video.server_status, _SERVER_ERROR_PAGE))
    headers = () if video.retry_after is None else (("Retry-After", video.retry_after),)
    return ReplayResponse(status, page, headers=headers)


def _oembed_response(video: ReplayVideo, status: int | None) -> ReplayResponse:
    if status is None:
        status = {"unavailable": 404, "private": 401}.get(video.status, 200)
    if status == 200:
        return ReplayResponse.json(oembed_json(video))
    return ReplayResponse(status, REASONS.get(status, "Error"))


def replay_session(
    *videos: ReplayVideo, oembed_status: int | None = None
) -> tuple[requests.Session, ReplayAdapter]:
    """A session answering only from the recorded responses for `videos`.

    `oembed_status` overrides every video's oEmbed answer (e.g. 404: oEmbed fails while the
    captions work).
    """
    adapter = ReplayAdapter()
    for video in videos:
        for route in routes_for(video, oembed_status=oembed_status):
            adapter.add(route)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session, adapter


# --- The example artefacts kept under testkit/fixtures/youtube/ ---------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "youtube"
FIXTURE_VIDEO = ReplayVideo(
    video_id="Rpl4yF1xtr5",
    title='Replay & "fixtures": five captions',
    channel_name="Offline Test Channel",
    captions=[
        (0.0, 2.4, "Hello, and welcome."),
        (2.4, 3.12, 'Tom & Jerry\'s "cat and mouse" show'),
        (5.52, 2.0, "if x > 0 & y < 1, it's fine"),
        (7.52, 4.5, "Caf\u00e9 cr\u00e8me \u2014 \u00e7a va?"),
        (12.02, 1.98, "Thanks for watching!"),
    ],
)


def fixture_artefacts(video: ReplayVideo = FIXTURE_VIDEO) -> dict[str, str]:
    """The files stored under testkit/fixtures/youtube/, by name."""
    return {
        "watch.html": watch_html(video),
        "player.json": json.dumps(player_json(video), indent=2, ensure_ascii=False) + "\n",
        "timedtext.xml": timedtext_xml(video.captions) + "\n",
        "oembed.json": json.dumps(oembed_json(video), indent=2, ensure_ascii=False) + "\n",
    }


def write_fixtures(directory: Path = FIXTURES) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in fixture_artefacts().items():
        (directory / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write_fixtures()
