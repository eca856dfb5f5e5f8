"""The API served for real for the client's and the page's tests: `python -m tests.client.server
[PORT]` (PORT from the environment when not given).

It serves the database named by DATABASE_URL (a test's throw-away one), migrated first as
`make run` does, with the offline language model, fetches YouTube from replayed responses
(tests/youtube_replay.py) of the videos below only, and lists the COURSE playlist from replayed
pages (tests/youtube_listing_replay.py), so `talker ingest`, `talker collections add` and the
page's collections run the real jobs and workers without network.
"""

import sys

import pytest
import uvicorn

import app.main
from app.core.config import get_settings
from app.db.embedded import resolve_database_url
from app.services.youtube_fetcher import YouTubeFetcher
from app.services.youtube_listing import YouTubeLister
from tests.youtube_listing_replay import (
    TALKS_CHANNEL,
    ReplayEntry,
    ReplayPlaylist,
    ReplayRH,
    playlist_routes,
)
from tests.youtube_replay import ReplayVideo, replay_session

BAKING = ReplayVideo(
    video_id="Client00001",
    title="Bread at home",
    channel_name="Kitchen Talks",
    captions=[
        (0.0, 4.0, "Welcome to the kitchen."),
        (4.0, 4.0, "A rye starter needs feeding twice a day."),
        (8.0, 4.0, "Keep the starter somewhere warm."),
    ],
)
PRIVATE = ReplayVideo(
    video_id="Client00002", title="Hidden", channel_name="Nobody", status="private"
)


LESSONS = [
    ReplayVideo(
        video_id=f"Lesson{number:05d}",
        title=f"Lesson {number}",
        channel_name="Replay Talks",
        captions=[
            (i * 5.0, 5.0, f"Lesson {number}, sentence {i}: rye, starters and ovens.")
            for i in range(30)
        ],
        description="0:00 Welcome\n0:50 The starter\n1:40 The oven" if number == 1 else "",
    )
    for number in (1, 2, 3)
]
COURSE = ReplayPlaylist(
    playlist_id="PLrEpLaYcLiEnTcOuRsE0000000000000",
    title="Bread course",
    owner=TALKS_CHANNEL,
    videos=(
        *(ReplayEntry(lesson.video_id, lesson.title, 150) for lesson in LESSONS),
        ReplayEntry("Lesson00004", "[Private video]", 0, availability="private"),
    ),
)


def replayed_fetcher() -> YouTubeFetcher:
    return YouTubeFetcher(http=replay_session(BAKING, PRIVATE, *LESSONS)[0])


def replayed_lister() -> YouTubeLister:
    return YouTubeLister(transport=ReplayRH(playlist_routes(COURSE)))


def main(port: int) -> None:
    resolve_database_url(migrate=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app.main, "YouTubeFetcher", replayed_fetcher)
        patch.setattr(app.main, "YouTubeLister", replayed_lister)
        uvicorn.run(app.main.create_app(), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else get_settings().port)
