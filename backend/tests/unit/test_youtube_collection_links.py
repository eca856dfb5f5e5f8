"""The playlist and channel links people paste: which page each one lists, and why anything else
is refused.
"""

import pytest

from app.services.youtube.listing import CollectionLink, parse_collection_link
from testkit.youtube_collections import FIFTY_TALKS, TALKS_CHANNEL

PLAYLIST_ID = FIFTY_TALKS.playlist_id
CHANNEL_ID = TALKS_CHANNEL.channel_id

pytestmark = pytest.mark.usefixtures("no_sockets")


@pytest.mark.parametrize(
    "value",
    [
        PLAYLIST_ID,
        f" {PLAYLIST_ID} ",
        f"https://www.youtube.com/playlist?list={PLAYLIST_ID}",
        f"youtube.com/playlist?list={PLAYLIST_ID}&si=shared",
        f"https://m.youtube.com/playlist?list={PLAYLIST_ID}",
        f"https://www.youtube.com/watch?v=dQw4w9WgXcQ&list={PLAYLIST_ID}&index=3",
        f"https://youtu.be/dQw4w9WgXcQ?list={PLAYLIST_ID}",
        f"https://www.youtube-nocookie.com/embed/videoseries?list={PLAYLIST_ID}",
    ],
)
def test_a_playlist_link_gives_the_playlist_page(value: str) -> None:
    assert parse_collection_link(value) == CollectionLink(
        "playlist", PLAYLIST_ID, f"https://www.youtube.com/playlist?list={PLAYLIST_ID}"
    )


@pytest.mark.parametrize(
    "playlist_id",
    [
        "UUrEpLaYtAlKs0000000000w",  # a channel's uploads
        "UULFrEpLaYtAlKs0000000000w",  # its long videos only
        "OLAK5uy_kReplayAlbum000000000000000000000",  # an album
    ],
)
def test_uploads_and_album_ids_are_playlists_too(playlist_id: str) -> None:
    link = parse_collection_link(playlist_id)
    assert (link.kind, link.source_id) == ("playlist", playlist_id)


@pytest.mark.parametrize(
    ("value", "source_id", "url"),
    [
        ("https://www.youtube.com/@replaytalks", "@replaytalks", "/@replaytalks/videos"),
        ("youtube.com/@replay.talks-1/videos/", "@replay.talks-1", "/@replay.talks-1/videos"),
        ("https://m.youtube.com/@replaytalks?si=x", "@replaytalks", "/@replaytalks/videos"),
        (
            "https://www.youtube.com/@%E6%97%A5%E6%9C%AC%E8%AA%9E",
            "@日本語",
            "/@%E6%97%A5%E6%9C%AC%E8%AA%9E/videos",
        ),
        (
            f"https://www.youtube.com/channel/{CHANNEL_ID}",
            CHANNEL_ID,
            f"/channel/{CHANNEL_ID}/videos",
        ),
        (f"youtube.com/channel/{CHANNEL_ID}/videos", CHANNEL_ID, f"/channel/{CHANNEL_ID}/videos"),
        ("https://www.youtube.com/c/ReplayTalks", "c/ReplayTalks", "/c/ReplayTalks/videos"),
        (
            "https://www.youtube.com/user/replaytalks/videos",
            "user/replaytalks",
            "/user/replaytalks/videos",
        ),
    ],
)
def test_a_channel_link_gives_its_videos_tab(value: str, source_id: str, url: str) -> None:
    assert parse_collection_link(value) == CollectionLink(
        "channel", source_id, f"https://www.youtube.com{url}"
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "single video"),
        ("https://youtu.be/dQw4w9WgXcQ?t=30", "single video"),
        ("https://www.youtube.com/shorts/dQw4w9WgXcQ", "single video"),
        ("dQw4w9WgXcQ", "single video"),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=RDdQw4w9WgXcQ", "is a mix"),
        ("https://www.youtube.com/playlist?list=WL", "only its owner"),
        ("https://www.youtube.com/playlist?list=LL", "only its owner"),
        ("https://www.youtube.com/playlist?list=nonsense", "not a playlist id"),
        ("https://www.youtube.com/@replaytalks/shorts", "only a channel's videos"),
        ("https://www.youtube.com/@replaytalks/playlists", "only a channel's videos"),
        ("https://www.youtube.com/channel/UC123", "no playlist or channel"),
        ("https://www.youtube.com/feed/trending", "no playlist or channel"),
        ("https://www.youtube.com/", "no playlist or channel"),
        ("https://vimeo.com/channels/staffpicks", "not a YouTube"),
        ("PL123", "not a YouTube"),
        ("", "not a YouTube"),
    ],
)
def test_anything_else_is_refused_with_a_reason(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_collection_link(value)
