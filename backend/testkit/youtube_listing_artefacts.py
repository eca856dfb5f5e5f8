"""YouTube's answers to a playlist or channel listing, in the shapes yt-dlp 2026.11 reads
(`yt_dlp/extractor/youtube/_tab.py` and `_base.py`); testkit/youtube_listing_replay.py routes
yt-dlp's requests to them:

1. the playlist's or the channel's videos tab's page (HTML): `page_html`. yt-dlp reads two
   scripts from it: `ytcfg.set({...});` (the innertube client context and visitor data its API
   calls send back) and `var ytInitialData = {...};` (the first page of videos, the metadata,
   and any alerts): `playlist_data`, `channel_data`, `missing_playlist_data`.
2. a playlist's first page again, with unavailable (private, deleted) videos shown: the page
   hides them, yt-dlp asks for them and lists from this answer (metadata included):
   `playlist_data(..., show_unavailable=True)`.
3. the next page, `onResponseReceivedActions[0].appendContinuationItemsAction
   .continuationItems`, ending with a `continuationItemRenderer` when more pages follow:
   `continuation_json`, asked for with a `continuation_token`.

None of this was recorded from YouTube (there is no network where this was written). The
renderers are synthesised after what the extractor reads, cut down to that and to the fields
that identify a renderer; their details (a playlist video's `lengthSeconds` and `isPlayable`,
the "[Private video]" title, the continuation command, the alert of a missing playlist) follow
real web-client answers recorded in April 2025 by NewPipeExtractor's tests
(`extractor/src/test/resources/.../youtube/extractor/playlist/`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from testkit.youtube_collections import ReplayChannel, ReplayEntry, ReplayPlaylist

YOUTUBE = "https://www.youtube.com"
CLIENT_VERSION = "2.20251120.01.00"
VISITOR_DATA = "CgtyZXBsYXlfb25seSiAgICABjIKCgJVUxIEGgAgAA%3D%3D"


def page_html(title: str, initial_data: dict[str, Any]) -> str:
    """A cut-down page: the two scripts yt-dlp reads. As in YouTube's pages, <, > and & are
    written \\u003c, \\u003e and \\u0026 inside the data: the JSON stays valid, the HTML whole."""
    data = json.dumps(initial_data, ensure_ascii=False, separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    ytcfg = json.dumps(_ytcfg(), separators=(",", ":"))
    return (
        '<!DOCTYPE html><html lang="en"><head>'
        f"<title>{_html_escape(title)} - YouTube</title>"
        f'<script nonce="replay">ytcfg.set({ytcfg});</script>'
        "</head><body>"
        f'<script nonce="replay">var ytInitialData = {data};</script>'
        "</body></html>\n"
    )


def _ytcfg() -> dict[str, Any]:
    client = {
        "hl": "en",
        "gl": "US",
        "visitorData": VISITOR_DATA,
        "clientName": "WEB",
        "clientVersion": CLIENT_VERSION,
        "originalUrl": f"{YOUTUBE}/",
        "platform": "DESKTOP",
    }
    return {
        "INNERTUBE_API_KEY": "AIzaSyReplay-not-a-real-key_000000000000",
        "INNERTUBE_CONTEXT": {"client": client, "user": {"lockedSafetyMode": False}},
        "INNERTUBE_CONTEXT_CLIENT_NAME": 1,
        "INNERTUBE_CONTEXT_CLIENT_VERSION": CLIENT_VERSION,
        "INNERTUBE_CLIENT_NAME": "WEB",
        "INNERTUBE_CLIENT_VERSION": CLIENT_VERSION,
        "VISITOR_DATA": VISITOR_DATA,
        "LOGGED_IN": False,
    }


def playlist_data(playlist: ReplayPlaylist, *, show_unavailable: bool) -> dict[str, Any]:
    """The playlist's first page: the page's ytInitialData (unavailable videos hidden, with an
    alert saying so) or the browse answer that shows them."""
    shown = [
        (index, entry)
        for index, entry in enumerate(playlist.videos[: playlist.page_size], start=1)
        if show_unavailable or entry.availability == "public"
    ]
    contents = [playlist_video(playlist, index, entry) for index, entry in shown]
    contents += continuation_if_more(playlist.playlist_id, playlist.page_size, playlist.videos)
    video_list = {
        "playlistVideoListRenderer": {
            "contents": contents,
            "playlistId": playlist.playlist_id,
            "isEditable": False,
            "canReorder": False,
            "targetId": playlist.playlist_id,
        }
    }
    section = {"itemSectionRenderer": {"contents": [video_list]}}
    data: dict[str, Any] = {
        "responseContext": {"visitorData": VISITOR_DATA},
        "contents": _tabs([{"selected": True, "content": _section_list([section])}]),
        "header": _playlist_header(playlist),
        "metadata": {"playlistMetadataRenderer": {"title": playlist.title, "description": ""}},
        "microformat": _microformat(f"{YOUTUBE}/playlist?list={playlist.playlist_id}"),
    }
    hidden = not show_unavailable and any(v.availability != "public" for v in playlist.videos)
    if hidden:
        data["alerts"] = [_alert("INFO", "Unavailable videos are hidden")]
    return data


def channel_data(channel: ReplayChannel) -> dict[str, Any]:
    """A channel's videos tab, as its page's ytInitialData."""
    grid = [rich_video(channel, entry) for entry in channel.videos[: channel.page_size]]
    grid += continuation_if_more(channel.channel_id, channel.page_size, channel.videos)
    home = {"title": "Home", "endpoint": _tab_endpoint(channel, "featured")}
    videos = {
        "title": "Videos",
        "selected": True,
        "endpoint": _tab_endpoint(channel, "videos"),
        "content": {"richGridRenderer": {"contents": grid}},
    }
    return {
        "responseContext": {"visitorData": VISITOR_DATA},
        "contents": _tabs([home, videos]),
        "header": {"pageHeaderRenderer": {"pageTitle": channel.name}},
        "metadata": {
            "channelMetadataRenderer": {
                "title": channel.name,
                "description": "",
                "externalId": channel.channel_id,
                "channelUrl": f"{YOUTUBE}/channel/{channel.channel_id}",
                "vanityChannelUrl": f"http://www.youtube.com/{channel.handle}",
            }
        },
        "microformat": _microformat(f"{YOUTUBE}/channel/{channel.channel_id}"),
    }


def continuation_json(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A continuation page: the next items, appended to the list the page started."""
    return {
        "responseContext": {"visitorData": VISITOR_DATA},
        "onResponseReceivedActions": [
            {
                "clickTrackingParams": "CAAQhGciEwjReplay",
                "appendContinuationItemsAction": {"continuationItems": list(items)},
            }
        ],
    }


def missing_playlist_data(said: str = "The playlist does not exist.") -> dict[str, Any]:
    """What YouTube answers for a playlist it will not show: HTTP 200, an error alert."""
    return {
        "responseContext": {"visitorData": VISITOR_DATA},
        "alerts": [_alert("ERROR", said)],
        "microformat": {"microformatDataRenderer": {"noindex": True}},
    }


def playlist_video(playlist: ReplayPlaylist, index: int, entry: ReplayEntry) -> dict[str, Any]:
    watch = {
        "commandMetadata": {
            "webCommandMetadata": {
                "url": f"/watch?v={entry.video_id}&list={playlist.playlist_id}&index={index}",
                "webPageType": "WEB_PAGE_TYPE_WATCH",
            }
        },
        "watchEndpoint": {
            "videoId": entry.video_id,
            "playlistId": playlist.playlist_id,
            "index": index - 1,
        },
    }
    renderer: dict[str, Any] = {
        "videoId": entry.video_id,
        "index": {"simpleText": str(index)},
        "navigationEndpoint": watch,
    }
    if entry.availability != "public":
        # YouTube names the video only by what happened to it, and tells nothing else.
        title = "[Private video]" if entry.availability == "private" else "[Deleted video]"
        renderer.update(
            title={"runs": [{"text": title}]},
            thumbnail=_thumbnail("https://i.ytimg.com/img/no_thumbnail.jpg"),
            isPlayable=False,
        )
        return {"playlistVideoRenderer": renderer}
    renderer.update(
        title={"runs": [{"text": entry.title}]},
        thumbnail=_thumbnail(f"https://i.ytimg.com/vi/{entry.video_id}/hqdefault.jpg"),
        shortBylineText={"runs": [_channel_run(playlist.owner)]},
        lengthText={"simpleText": _clock(entry.duration)},
        lengthSeconds=str(entry.duration),
        isPlayable=True,
    )
    return {"playlistVideoRenderer": renderer}


def rich_video(channel: ReplayChannel, entry: ReplayEntry) -> dict[str, Any]:
    """A video in a channel's grid (`videoRenderer`: no lengthSeconds, only the clock text)."""
    video: dict[str, Any] = {
        "videoId": entry.video_id,
        "thumbnail": _thumbnail(f"https://i.ytimg.com/vi/{entry.video_id}/hqdefault.jpg"),
        "title": {"runs": [{"text": entry.title}]},
        "publishedTimeText": {"simpleText": "2 weeks ago"},
        "lengthText": {"simpleText": _clock(entry.duration)},
        "viewCountText": {"simpleText": "1,234 views"},
        "navigationEndpoint": {
            "commandMetadata": {
                "webCommandMetadata": {
                    "url": f"/watch?v={entry.video_id}",
                    "webPageType": "WEB_PAGE_TYPE_WATCH",
                }
            },
            "watchEndpoint": {"videoId": entry.video_id},
        },
        "thumbnailOverlays": [
            {
                "thumbnailOverlayTimeStatusRenderer": {
                    "text": {"simpleText": _clock(entry.duration)},
                    "style": "DEFAULT",
                }
            }
        ],
    }
    if entry.availability == "members_only":
        badge = {"style": "BADGE_STYLE_TYPE_MEMBERS_ONLY", "label": "Members only"}
        video["badges"] = [{"metadataBadgeRenderer": badge}]
    return {"richItemRenderer": {"content": {"videoRenderer": video}}}


def continuation_if_more(
    list_id: str, page_size: int, videos: Sequence[ReplayEntry], offset: int = 0
) -> list[dict[str, Any]]:
    if offset + page_size >= len(videos):
        return []
    token = continuation_token(list_id, offset + page_size)
    endpoint = {
        "clickTrackingParams": "CBQQ7zsYACITCReplay",
        "commandMetadata": {
            "webCommandMetadata": {"sendPost": True, "apiUrl": "/youtubei/v1/browse"}
        },
        "continuationCommand": {"token": token, "request": "CONTINUATION_REQUEST_TYPE_BROWSE"},
    }
    trigger = "CONTINUATION_TRIGGER_ON_ITEM_SHOWN"
    return [{"continuationItemRenderer": {"trigger": trigger, "continuationEndpoint": endpoint}}]


def continuation_token(list_id: str, offset: int) -> str:
    """Opaque to yt-dlp, as YouTube's (base64 of a protobuf) are."""
    return base64.urlsafe_b64encode(f"replay:{list_id}:{offset}".encode()).decode()


def _tabs(tabs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"twoColumnBrowseResultsRenderer": {"tabs": [{"tabRenderer": t} for t in tabs]}}


def _section_list(contents: list[dict[str, Any]]) -> dict[str, Any]:
    return {"sectionListRenderer": {"contents": contents}}


def _tab_endpoint(channel: ReplayChannel, tab: str) -> dict[str, Any]:
    return {
        "commandMetadata": {
            "webCommandMetadata": {
                "url": f"/{channel.handle}/{tab}",
                "webPageType": "WEB_PAGE_TYPE_CHANNEL",
            }
        },
        "browseEndpoint": {
            "browseId": channel.channel_id,
            "canonicalBaseUrl": f"/{channel.handle}",
        },
    }


def _playlist_header(playlist: ReplayPlaylist) -> dict[str, Any]:
    count = len(playlist.videos)
    return {
        "playlistHeaderRenderer": {
            "playlistId": playlist.playlist_id,
            "title": {"simpleText": playlist.title},
            "numVideosText": {"runs": [{"text": str(count)}, {"text": " videos"}]},
            "ownerText": {"runs": [_channel_run(playlist.owner)]},
            "privacy": "PUBLIC",
        }
    }


def _channel_run(channel: ReplayChannel) -> dict[str, Any]:
    return {
        "text": channel.name,
        "navigationEndpoint": {
            "commandMetadata": {
                "webCommandMetadata": {
                    "url": f"/{channel.handle}",
                    "webPageType": "WEB_PAGE_TYPE_CHANNEL",
                }
            },
            "browseEndpoint": {
                "browseId": channel.channel_id,
                "canonicalBaseUrl": f"/{channel.handle}",
            },
        },
    }


def _microformat(canonical: str) -> dict[str, Any]:
    return {
        "microformatDataRenderer": {"urlCanonical": canonical, "noindex": False, "unlisted": False}
    }


def _alert(kind: str, text: str) -> dict[str, Any]:
    return {"alertRenderer": {"type": kind, "text": {"runs": [{"text": text}]}}}


def _thumbnail(url: str) -> dict[str, Any]:
    return {"thumbnails": [{"url": url, "width": 168, "height": 94}]}


def _clock(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
