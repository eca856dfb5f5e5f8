"""The API served for real with YouTube replayed, for the client's and the page's tests and the
collections benchmark: `python -m testkit.replayed_server [PORT]` (PORT from the environment when
not given).

It serves the database named by DATABASE_URL (a test's throw-away one), migrated first as
`make run` does, with the offline language model, fetches YouTube from replayed responses
(testkit/youtube_replay.py) of the videos below only, and lists the COURSE playlist from replayed
pages (testkit/youtube_listing_replay.py), so `talker ingest`, `talker collections add` and the
page's collections run the real jobs and workers without network.
"""

import sys

import pytest
import uvicorn

import app.main
from app.core.config import get_settings
from app.db.embedded import resolve_database
from app.services.youtube.fetcher import YouTubeFetcher
from app.services.youtube.listing import YouTubeLister
from testkit.youtube_collections import FIFTY_TALKS, TALKS_CHANNEL, ReplayEntry, ReplayPlaylist
from testkit.youtube_listing_replay import ReplayRH, playlist_routes
from testkit.youtube_replay import replay_session
from testkit.youtube_video_artefacts import ReplayVideo

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


LESSON_TEXTS = {
    1: (
        "A rye starter needs rye flour and water, fed twice a day.",
        "Keep the starter somewhere warm, around twenty-five degrees.",
        "When it doubles within six hours, the starter is ready to bake with.",
    ),
    2: (
        "Heat the oven to two hundred and fifty degrees with the pot inside.",
        "Bake the loaf covered for twenty minutes, then uncovered until dark.",
        "A loaf is done when it sounds hollow underneath.",
    ),
    3: (
        "Shape the dough into a tight ball on an unfloured bench.",
        "Let it rise in a floured basket in the fridge overnight.",
        "Score the top with a razor just before it goes into the oven.",
    ),
}
LESSONS = [
    ReplayVideo(
        video_id=f"Lesson{number:05d}",
        title=f"Lesson {number}",
        channel_name="Replay Talks",
        captions=[(i * 5.0, 5.0, texts[i % len(texts)]) for i in range(30)],
        description="0:00 Welcome\n0:50 The starter\n1:40 The oven" if number == 1 else "",
    )
    for number, texts in LESSON_TEXTS.items()
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


# The 50-video playlist of the listing tests, with captions for its public videos (for the
# collections benchmark: benchmarks/collections.py).
FIFTY_VIDEOS = [
    ReplayVideo(
        video_id=entry.video_id,
        title=entry.title,
        channel_name="Replay Talks",
        captions=[
            (i * 5.0, 5.0, f"{entry.title}, part {i}: queues and indexes.") for i in range(60)
        ],
    )
    for entry in FIFTY_TALKS.videos
    if entry.availability == "public"
]


def replayed_fetcher() -> YouTubeFetcher:
    return YouTubeFetcher(http=replay_session(BAKING, PRIVATE, *LESSONS, *FIFTY_VIDEOS)[0])


def replayed_lister() -> YouTubeLister:
    routes = playlist_routes(COURSE) + playlist_routes(FIFTY_TALKS)
    return YouTubeLister(transport=ReplayRH(routes))


def main(port: int | None) -> None:
    settings = resolve_database(get_settings(), migrate=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app.main, "YouTubeFetcher", replayed_fetcher)
        patch.setattr(app.main, "YouTubeLister", replayed_lister)
        served = app.main.create_app(settings)
        uvicorn.run(served, host="127.0.0.1", port=port or settings.port, log_level="warning")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
