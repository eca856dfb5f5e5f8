"""The README's collections block, run as pasted against a live server whose YouTube answers
(the playlist's pages and its videos' captions) are replayed: testkit/replayed_server.py."""

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import pytest

from app.core.config import BACKEND_DIR
from app.db.migrations import run_alembic, upgrade
from testkit.database import create_database, drop_database
from testkit.processes import terminate, unmeasured
from testkit.replayed_server import COURSE, LESSONS
from tests.service.conftest import free_port, wait_for_health
from tests.service.test_readme_walkthrough import (
    DEFAULT_ADDRESS,
    README,
    REPOSITORY_DIR,
    json_answers,
    server_sent_events,
    walkthrough_script,
)

BLOCK = re.compile(
    r"<!-- collections: start -->\n```bash\n(?P<script>.*?)```\n<!-- collections: end -->",
    re.DOTALL,
)

pytestmark = pytest.mark.slow


def collections_script() -> str:
    """The walk-through's sign-in (its `API`, `JSON`, `pick` and `AUTH`), then the block."""
    match = BLOCK.search(README.read_text(encoding="utf-8"))
    assert match is not None, "README.md has no collections block"
    preamble = walkthrough_script().split('AUTH="Authorization: Bearer $TOKEN"')[0]
    return preamble + 'AUTH="Authorization: Bearer $TOKEN"\n' + match.group("script")


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    url = await create_database(server_url, prefix="ytt_readme")
    await run_alembic(url, upgrade)  # as `make run` does before it serves
    yield url
    await drop_database(url)


@pytest.fixture
def replayed_server(empty_database: str) -> Iterator[int]:
    port = free_port()
    environment = unmeasured(os.environ) | {"DATABASE_URL": empty_database}
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "testkit.replayed_server", str(port)],
        cwd=BACKEND_DIR,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_health(process, port)
        yield port
    finally:
        terminate(process, timeout=30)


def test_the_readme_collections_block_runs_as_pasted(replayed_server: int) -> None:
    address = f"http://127.0.0.1:{replayed_server}"
    script = collections_script().replace(DEFAULT_ADDRESS, address)
    playlist = f"https://www.youtube.com/playlist?list={COURSE.playlist_id}"
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}

    finished = subprocess.run(  # noqa: S603 (the README's own block)
        ["/bin/bash", "-euo", "pipefail", "-c", script],
        cwd=REPOSITORY_DIR,
        env=environment | {"PLAYLIST": playlist},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert finished.returncode == 0, f"{finished.stdout}\n{finished.stderr}"
    events = server_sent_events(finished.stdout)
    assert events[0] == "progress"
    assert events[-1] == "ready"
    answers = cast(list[dict[str, Any]], json_answers(finished.stdout))
    collection = next(answer for answer in answers if "videos" in answer)
    assert collection["progress"] == {
        "total": 4,
        "done": 3,
        "failed": 1,
        "pending": 0,
        "ready": True,
        "eta_seconds": None,
    }
    outline = next(answer for answer in answers if "chapters" in answer)
    assert [c["title"] for c in outline["chapters"]] == ["Welcome", "The starter", "The oven"]
    lessons = {video["transcript_id"] for video in collection["videos"] if video["transcript_id"]}
    chat = next(answer for answer in answers if "assistant_message" in answer)
    cited = {c["transcript_id"] for c in chat["assistant_message"]["metadata"]["citations"]}
    assert cited
    assert cited <= lessons
    search = next(answer for answer in answers if "hits" in answer)
    assert search["hits"]
    assert {hit["transcript_id"] for hit in search["hits"]} <= lessons
    assert {video["video_id"] for video in collection["videos"]} >= {
        lesson.video_id for lesson in LESSONS
    }
