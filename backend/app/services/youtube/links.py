"""YouTube video ids from the forms people paste: bare ids and every common URL shape."""

import re
from urllib.parse import parse_qs, urlparse

VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
YOUTUBE_HOSTS = {
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "music.youtube.com",
    "youtube-nocookie.com",
    "www.youtube-nocookie.com",
}
SHORT_HOSTS = {"youtu.be", "www.youtu.be"}
_PATH_PREFIXES = ("embed", "shorts", "live", "v", "e")


def parse_video_id(value: str) -> str:
    """The 11-character video id in `value`; ValueError saying why when there is none."""
    candidate = value.strip()
    if VIDEO_ID.match(candidate):
        return candidate
    url = urlparse(candidate if "://" in candidate else f"https://{candidate}")
    host = (url.hostname or "").lower()
    found: str | None = None
    if host in SHORT_HOSTS:
        found = url.path.strip("/").split("/")[0]
    elif host in YOUTUBE_HOSTS:
        found = _id_from_youtube_url(url.path, url.query)
    else:
        raise ValueError(f"not a YouTube video id or URL: {value!r}")
    if not found or not VIDEO_ID.match(found):
        hint = (
            " (a playlist or a channel is added with POST /collections)"
            if "list=" in url.query
            or url.path.startswith(("/@", "/channel/", "/c/", "/user/", "/playlist"))
            else ""
        )
        raise ValueError(f"no video id found in {value!r}{hint}")
    return found


def _id_from_youtube_url(path: str, query: str) -> str | None:
    if path.rstrip("/") in ("/watch", ""):
        return parse_qs(query).get("v", [None])[0]
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] in _PATH_PREFIXES:
        return parts[1]
    return None


def watch_url(video_id: str, seconds: float | None = None) -> str:
    """A link to the video, at `seconds` when given."""
    if seconds is None:
        return f"https://youtu.be/{video_id}"
    return f"https://youtu.be/{video_id}?t={int(seconds)}"
