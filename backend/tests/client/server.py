"""The API served for real for the client's tests: `python -m tests.client.server PORT`.

It serves the database named by DATABASE_URL (the test run's throw-away one) with the offline
language model, and fetches YouTube from replayed responses (tests/youtube_replay.py) of the
videos below only, so `talker ingest` runs the real job and worker without network.
"""

import sys

import pytest
import uvicorn

import app.main
from app.services.youtube_fetcher import YouTubeFetcher
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


def replayed_fetcher() -> YouTubeFetcher:
    return YouTubeFetcher(http=replay_session(BAKING, PRIVATE)[0])


def main(port: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app.main, "YouTubeFetcher", replayed_fetcher)
        uvicorn.run(app.main.create_app(), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(int(sys.argv[1]))
