"""Replay of YouTube's HTTP answers, so tests run youtube-transcript-api's real parsing offline.

`replay_session(*videos)` gives a `requests.Session` whose only adapter, `ReplayAdapter`, answers
from a table of responses built here in the shapes youtube-transcript-api 1.2.x parses:

1. GET  https://www.youtube.com/watch?v=ID            -> the watch page (HTML); the library only
   reads `"INNERTUBE_API_KEY": "..."` from it (after `html.unescape`).
2. POST https://www.youtube.com/youtubei/v1/player?key=KEY, JSON body {"videoId": ID, ...}
   -> the innertube player JSON: `playabilityStatus` and
   `captions.playerCaptionsTracklistRenderer` (`captionTracks`, `translationLanguages`).
3. GET  each caption track's `baseUrl` (the library drops `&fmt=srv3` first)
   -> timedtext XML, `<transcript><text start=".." dur="..">..</text></transcript>`.
4. GET  https://www.youtube.com/oembed?url=<watch url>&format=json -> title and author_name.

The adapter, how it matches requests and how a "network_down" video's request fails are in
testkit/replay_http.py; a player route also needs the JSON body's `videoId`.

None of this was recorded from YouTube (there is no network where this was written): it is
synthesised after the library's parser (`youtube_transcript_api/_transcripts.py`) and the real
responses it ships as test assets (`youtube_transcript_api/test/assets/`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlencode

import requests

from testkit.replay_http import REASONS, NetworkFailure, ReplayAdapter, ReplayResponse, Route

Caption = tuple[float, float, str]
"""One caption: start in seconds, duration in seconds, text (plain, as the viewer reads it)."""

Status = Literal[
    "ok",
    "transcripts_disabled",  # the player JSON has no `captions`
    "unavailable",  # playabilityStatus ERROR, "This video is unavailable"
    "private",  # playabilityStatus LOGIN_REQUIRED, "This video is private"
    "age_restricted",  # LOGIN_REQUIRED, "This video may be inappropriate for some users."
    "bot_detected",  # LOGIN_REQUIRED, "Sign in to confirm you're not a bot" (a curly ')
    "rate_limited",  # `failing_step` (the watch page by default) answers 429
    "recaptcha",  # the watch page answers 200 with a reCAPTCHA page and no API key
    "server_error",  # `failing_step` (the player by default) answers `server_status` (500)
    "forbidden",  # `failing_step` (the watch page by default) answers 403
    "network_down",  # `failing_step` (the watch page by default) fails as `network_failure` says
    "no_english",  # the captions are published in German only
    "po_token",  # the track's baseUrl carries `&exp=xpe` (a PO token is required)
    "empty_timedtext",  # the timedtext request answers 200 with an empty body
]
STATUSES: tuple[Status, ...] = get_args(Status)

Step = Literal["watch", "player", "timedtext", "oembed"]
_DEFAULT_FAILING_STEP: dict[Status, Step] = {
    "rate_limited": "watch",
    "server_error": "player",
    "forbidden": "watch",
    "network_down": "watch",
}

WATCH_URL = "https://www.youtube.com/watch"
PLAYER_URL = "https://www.youtube.com/youtubei/v1/player"
TIMEDTEXT_URL = "https://www.youtube.com/api/timedtext"
OEMBED_URL = "https://www.youtube.com/oembed"
# Fake, and only shaped like one: the library's pattern is "[a-zA-Z0-9_-]+".
API_KEY = "AIzaSyReplay-not-a-real-key_000000000000"

LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "nl": "Dutch",
    "ja": "Japanese",
}
# What YouTube offers as machine-translation targets for a translatable track.
TRANSLATION_LANGUAGES = ("en", "de", "fr", "es", "ja")


@dataclass(frozen=True)
class ReplayTrack:
    """A further caption track of the same video (the main one is described on ReplayVideo)."""

    language_code: str
    captions: list[Caption]
    is_generated: bool = False


@dataclass(frozen=True)
class ReplayVideo:
    video_id: str
    title: str
    channel_name: str
    captions: list[Caption] = field(default_factory=list)
    language_code: str = "en"
    is_generated: bool = False
    status: Status = "ok"
    extra_tracks: tuple[ReplayTrack, ...] = ()
    # Which request fails for "rate_limited", "server_error", "forbidden" and "network_down"
    # (None: the watch page, the player, the watch page and the watch page respectively).
    failing_step: Step | None = None
    network_failure: NetworkFailure = "unreachable"  # how a "network_down" request fails
    server_status: int = 500  # what a "server_error" request answers
    retry_after: str | None = None  # the Retry-After header of a 429 or 5xx answer
    description: str = ""  # videoDetails.shortDescription: where a video's own chapters are

    def tracks(self) -> list[ReplayTrack]:
        main = ReplayTrack(self.language_code, self.captions, self.is_generated)
        tracks = [main, *self.extra_tracks]
        if self.status == "no_english":
            if any(track.language_code.startswith("en") for track in self.extra_tracks):
                raise ValueError("a 'no_english' video cannot have an English extra track")
            tracks[0] = ReplayTrack("de", self.captions, self.is_generated)
        return tracks


# --- The artefacts, in YouTube's shapes -------------------------------------------------------


def watch_html(video: ReplayVideo, api_key: str = API_KEY) -> str:
    """A cut-down watch page: the library only needs the `ytcfg.set({...})` API key."""
    title = _html_escape(video.title)
    ytcfg = {
        "HL": "en",
        "GL": "US",
        "INNERTUBE_API_KEY": api_key,
        "INNERTUBE_API_VERSION": "v1",
        "INNERTUBE_CLIENT_NAME": "WEB",
        "INNERTUBE_CLIENT_VERSION": "2.20250610.00.00",
    }
    return (
        '<!DOCTYPE html><html style="font-size: 10px;font-family: Roboto, Arial, sans-serif;" '
        'lang="en" system-icons typography typography-spacing><head>'
        f"<title>{title} - YouTube</title>"
        f'<meta property="og:title" content="{title}">'
        f'<link rel="canonical" href="https://www.youtube.com/watch?v={video.video_id}">'
        '<script nonce="replay">'
        f"ytcfg.set({json.dumps(ytcfg, separators=(',', ':'))});"
        "</script></head><body></body></html>\n"
    )


def player_json(video: ReplayVideo) -> dict[str, Any]:
    """The innertube player answer (ANDROID client), reduced to what the library reads."""
    data: dict[str, Any] = {
        "responseContext": {"visitorData": "CgtyZXBsYXlfb25seQ%3D%3D"},
        "playabilityStatus": _playability_status(video.status),
    }
    if video.status in ("unavailable", "private", "age_restricted", "bot_detected"):
        return data  # YouTube sends neither videoDetails nor captions for these.
    data["videoDetails"] = {
        "videoId": video.video_id,
        "title": video.title,
        "author": video.channel_name,
        "lengthSeconds": str(_length_seconds(video.captions)),
    }
    if video.description:
        data["videoDetails"]["shortDescription"] = video.description
    if video.status == "transcripts_disabled":
        return data
    tracks = video.tracks()
    data["captions"] = {
        "playerCaptionsTracklistRenderer": {
            "captionTracks": [_caption_track(video, track) for track in tracks],
            "audioTracks": [
                {
                    "captionTrackIndices": list(range(len(tracks))),
                    "defaultCaptionTrackIndex": 0,
                    "hasDefaultTrack": True,
                    "captionsInitialState": "CAPTIONS_INITIAL_STATE_OFF_RECOMMENDED",
                }
            ],
            "translationLanguages": [
                {"languageCode": code, "languageName": {"runs": [{"text": LANGUAGE_NAMES[code]}]}}
                for code in TRANSLATION_LANGUAGES
            ],
            "defaultAudioTrackIndex": 0,
        }
    }
    return data


def timedtext_xml(captions: Iterable[Caption]) -> str:
    """The legacy timedtext format. Its text is escaped twice, as YouTube does: once as HTML
    (`'` -> `&#39;`), then as XML (`&#39;` -> `&amp;#39;`); the library undoes both."""
    lines = ['<?xml version="1.0" encoding="utf-8" ?><transcript>']
    for start, duration, text in captions:
        body = _xml_escape(_html_escape(text))
        lines.append(f'<text start="{_seconds(start)}" dur="{_seconds(duration)}">{body}</text>')
    lines.append("</transcript>")
    return "".join(lines)


def oembed_json(video: ReplayVideo) -> dict[str, Any]:
    embed = f"https://www.youtube.com/embed/{video.video_id}?feature=oembed"
    handle = "@" + "".join(ch for ch in video.channel_name if ch.isalnum())
    return {
        "title": video.title,
        "author_name": video.channel_name,
        "author_url": f"https://www.youtube.com/{handle}",
        "type": "video",
        "height": 113,
        "width": 200,
        "version": "1.0",
        "provider_name": "YouTube",
        "provider_url": "https://www.youtube.com/",
        "thumbnail_height": 360,
        "thumbnail_width": 480,
        "thumbnail_url": f"https://i.ytimg.com/vi/{video.video_id}/hqdefault.jpg",
        "html": (
            f'<iframe width="200" height="113" src="{embed}" frameborder="0" allow="accelerometer; '
            "autoplay; clipboard-write; encrypted-media; gyroscope; picture-in-picture; "
            'web-share" referrerpolicy="strict-origin-when-cross-origin" allowfullscreen '
            f'title="{_html_escape(video.title)}"></iframe>'
        ),
    }


def track_base_url(video: ReplayVideo, track: ReplayTrack) -> str:
    """A caption track's baseUrl as the player JSON gives it (signed, ending in `&fmt=srv3`)."""
    signature = hashlib.sha1(  # noqa: S324 - a fake signature, not security
        f"{video.video_id}:{track.language_code}:{track.is_generated}".encode()
    ).hexdigest()
    params = [
        ("v", video.video_id),
        ("ei", "cmVwbGF5X29ubHk"),
        ("caps", "asr"),
        ("opi", "112496729"),
        ("xoaf", "5"),
        ("hl", "en"),
        ("ip", "0.0.0.0"),  # noqa: S104 - a URL parameter, as in YouTube's own baseUrls
        ("ipbits", "0"),
        ("expire", "1893456000"),
        ("sparams", "ip,ipbits,expire,v,ei,caps,opi,xoaf"),
        ("signature", f"{signature[:40].upper()}.{signature[::-1][:40].upper()}"),
        ("key", "yt8"),
    ]
    if track.is_generated:
        params.append(("kind", "asr"))
    params.append(("lang", track.language_code))
    if video.status == "po_token":
        params.append(("exp", "xpe"))
    params.append(("fmt", "srv3"))
    return f"{TIMEDTEXT_URL}?{urlencode(params, safe=',')}"


def _caption_track(video: ReplayVideo, track: ReplayTrack) -> dict[str, Any]:
    name = LANGUAGE_NAMES.get(track.language_code, track.language_code)
    entry: dict[str, Any] = {
        "baseUrl": track_base_url(video, track),
        "name": {"runs": [{"text": f"{name} (auto-generated)" if track.is_generated else name}]},
        "vssId": f"{'a' if track.is_generated else ''}.{track.language_code}",
        "languageCode": track.language_code,
    }
    if track.is_generated:
        entry["kind"] = "asr"
    entry["isTranslatable"] = True
    entry["trackName"] = ""
    return entry


def _playability_status(status: Status) -> dict[str, Any]:
    if status == "unavailable":
        return _unplayable("ERROR", "This video is unavailable", [])
    if status == "private":
        return _unplayable(
            "LOGIN_REQUIRED",
            "This video is private",
            ["If the owner of this video has granted you access, please sign in."],
        )
    if status == "age_restricted":
        return _unplayable("LOGIN_REQUIRED", "This video may be inappropriate for some users.", [])
    if status == "bot_detected":
        return _unplayable(
            "LOGIN_REQUIRED",
            "Sign in to confirm you\u2019re not a bot",  # the library matches this exact text
            ["This helps protect our community. ", "Learn more"],
        )
    return {"status": "OK", "playableInEmbed": True, "contextParams": "Q0FFU0FnZ0M="}


def _unplayable(status: str, reason: str, subreasons: list[str]) -> dict[str, Any]:
    renderer: dict[str, Any] = {"reason": {"runs": [{"text": reason}]}}
    if subreasons:
        renderer["subreason"] = {"runs": [{"text": text} for text in subreasons]}
    renderer["icon"] = {"iconType": "ERROR_OUTLINE"}
    return {
        "status": status,
        "reason": reason,
        "errorScreen": {"playerErrorMessageRenderer": renderer},
        "contextParams": "Q0FBU0FnZ0E=",
    }


def _html_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _length_seconds(captions: Sequence[Caption]) -> int:
    return round(max((start + duration for start, duration, _ in captions), default=0))


# --- The builder ------------------------------------------------------------------------------

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
