"""The README's walk-through, run as pasted against a live server (offline), from the top folder.

Only the server's address changes (to the port this test's server listens on). Every curl in the
block uses `--fail-with-body`, so any error answer fails the script with its body in the output.
"""

import json
import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.core.config import BACKEND_DIR
from testkit.database import create_database, drop_database
from tests.service.conftest import wait_for_health

REPOSITORY_DIR = BACKEND_DIR.parent
README = REPOSITORY_DIR / "README.md"
BLOCK = re.compile(
    r"<!-- walk-through: start -->\n```bash\n(?P<script>.*?)```\n<!-- walk-through: end -->",
    re.DOTALL,
)
DEFAULT_ADDRESS = "http://127.0.0.1:8000"

pytestmark = pytest.mark.slow


def walkthrough_script() -> str:
    match = BLOCK.search(README.read_text(encoding="utf-8"))
    assert match is not None, "README.md has no walk-through block"
    script = match.group("script")
    assert DEFAULT_ADDRESS in script, "the walk-through no longer talks to the default address"
    return script


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    """The walk-through signs up ada@example.com: a database nothing else has written to."""
    url = await create_database(server_url, prefix="ytt_readme")
    yield url
    await drop_database(url)


def server_sent_events(output: str) -> list[str]:
    return re.findall(r"^event: (\S+)$", output, flags=re.MULTILINE)


def json_answers(output: str) -> list[dict[str, object]]:
    answers = []
    for line in output.splitlines():
        if line.startswith("{"):
            answers.append(json.loads(line))
    return answers


def test_the_readme_walkthrough_runs_as_pasted(  # type: ignore[no-untyped-def]
    empty_database: str, start_service
) -> None:
    process, port = start_service(
        DATABASE_URL=empty_database, measured=False
    )  # the defaults of `make run`
    wait_for_health(process, port)
    script = walkthrough_script().replace(DEFAULT_ADDRESS, f"http://127.0.0.1:{port}")

    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    finished = subprocess.run(  # noqa: S603 (the README's own block)
        ["/bin/bash", "-euo", "pipefail", "-c", script],
        cwd=REPOSITORY_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert finished.returncode == 0, f"{finished.stdout}\n{finished.stderr}"
    answers = json_answers(finished.stdout)
    assert not [answer for answer in answers if "error" in answer], finished.stdout
    assert answers[0]["email"] == "ada@example.com"  # signed up
    chat = next(answer for answer in answers if "assistant_message" in answer)
    reply = chat["assistant_message"]
    assert isinstance(reply, dict)
    citations = reply["metadata"]["citations"]
    assert citations, "the answer cites nothing from the uploaded talk"
    assert all("exampleTalk" in c["url"] and "t=" in c["url"] for c in citations)
    assert server_sent_events(finished.stdout)[-1] == "done"
    search = next(answer for answer in answers if "hits" in answer)
    hits = search["hits"]
    assert isinstance(hits, list)
    assert hits, "the search found nothing"
    # The walk-through waited for the background job: search went by meaning as well as words.
    assert search["mode"] == "hybrid"
    assert any("semantic" in hit["signals"] for hit in hits)
    assert any(answer.get("text") for answer in answers), "no draft"


def test_the_example_captions_are_in_the_repository() -> None:
    script = walkthrough_script()
    for path in re.findall(r"file=@(\S+)", script):
        assert Path(REPOSITORY_DIR, path).is_file(), path
