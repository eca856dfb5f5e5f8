"""The replayed videos and YouTube's answers about them, in the shapes youtube-transcript-api
1.2.x parses (the requests that fetch them are routed by testkit/youtube_replay.py):

1. the watch page (HTML); the library only reads `"INNERTUBE_API_KEY": "..."` from it (after
   `html.unescape`): `watch_html`.
2. the innertube player JSON: `playabilityStatus` and `captions.playerCaptionsTracklistRenderer`
   (`captionTracks`, `translationLanguages`): `player_json`.
3. each caption track's timedtext XML, `<transcript><text start=".." dur="..">..</text>
   </transcript>`, at the track's `baseUrl` (`track_base_url`): `timedtext_xml`.
4. the oEmbed JSON, with title and author_name: `oembed_json`.

None of this was recorded from YouTube (there is no network where this was written): it is
synthesised after the library's parser (`youtube_transcript_api/_transcripts.py`) and the real
responses it ships as test assets (`youtube_transcript_api/test/assets/`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args
from urllib.parse import urlencode

from testkit.replay_http import NetworkFailure

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
