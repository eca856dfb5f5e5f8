"""What a replayed YouTube listing lists: playlists and channels (`ReplayPlaylist`,
`ReplayChannel`) and their videos (`ReplayEntry`, made in bulk by `entries`), and the ones the
tests and the replayed server list (`TALKS_CHANNEL`, `FIFTY_TALKS`, `BROKEN_PLAYLIST`, and
`MISSING_PLAYLIST_ID`, a playlist YouTube will not show).

testkit/youtube_listing_artefacts.py renders them in YouTube's shapes and
testkit/youtube_listing_replay.py routes yt-dlp's requests to those answers. YouTube sends 100
videos per playlist page and 30 per channel page; the fixtures' page sizes are parameters.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from testkit.replay_http import ReplayResponse

PLAYLIST_PAGE_SIZE = 100
CHANNEL_PAGE_SIZE = 30

# Private and deleted videos are what a playlist shows of them; members-only videos show as
# any other, with a badge.
Availability = Literal["public", "private", "deleted", "members_only"]


# --- What is listed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayEntry:
    video_id: str
    title: str
    duration: int  # seconds
    availability: Availability = "public"


@dataclass(frozen=True)
class ReplayChannel:
    channel_id: str  # UC + 22 characters
    handle: str  # @name
    name: str
    videos: tuple[ReplayEntry, ...] = ()
    page_size: int = CHANNEL_PAGE_SIZE


@dataclass(frozen=True)
class ReplayPlaylist:
    playlist_id: str
    title: str
    owner: ReplayChannel
    videos: tuple[ReplayEntry, ...]
    page_size: int = PLAYLIST_PAGE_SIZE
    # When set, the first continuation request gets this answer (a network failure, a 5xx).
    continuation_failure: ReplayResponse | None = None


def entries(prefix: str, count: int, **unavailable: Availability) -> tuple[ReplayEntry, ...]:
    """`count` public videos with ids made from `prefix` (the numbers in `unavailable`, e.g.
    `v7="private"`, are not public)."""
    made = []
    for number in range(1, count + 1):
        availability = unavailable.get(f"v{number}", "public")
        made.append(
            ReplayEntry(
                video_id=f"{prefix}{number:0{11 - len(prefix)}d}",
                title=f"Talk {number}",
                duration=60 * number + 5,
                availability=availability,
            )
        )
    return tuple(made)


# --- The fixtures -----------------------------------------------------------------------------

TALKS_CHANNEL = ReplayChannel(
    channel_id="UCrEpLaYtAlKs0000000000w",
    handle="@replaytalks",
    name="Replay Talks",
    # 45 videos: a first page of 30, a continuation page of 15; video 5 is for members only.
    videos=entries("ch", 45, v5="members_only"),
)

_FIFTY = list(entries("pl", 50, v7="private", v41="deleted"))
# One title that needs escaping in the page's script and decoding by yt-dlp.
_FIFTY[2] = dataclasses.replace(_FIFTY[2], title='Q&A: "async" <Python> \u2014 caf\u00e9')
FIFTY_TALKS = ReplayPlaylist(
    playlist_id="PLrEpLaYfIfTyTaLkS0000000000000000",
    title="Fifty talks & a few more",
    owner=TALKS_CHANNEL,
    # Two pages, 30 and 20: video 7 is private (page 1), video 41 deleted (page 2).
    videos=tuple(_FIFTY),
    page_size=30,
)

BROKEN_PLAYLIST = ReplayPlaylist(
    playlist_id="PLrEpLaYbRoKeNpAgEs00000000000000",
    title="Broken after a page",
    owner=TALKS_CHANNEL,
    # A full first page of 100, then the connection is cut on every try of the second.
    videos=entries("br", 150),
    continuation_failure=ReplayResponse(network_failure="reset"),
)

MISSING_PLAYLIST_ID = "PLrEpLaYdOeSnOtExIsT000000000000"
