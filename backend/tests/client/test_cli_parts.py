"""The client's parts that need no server: events, the credentials file, streaming, errors."""

import io
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from app.client import cli
from app.client.api import ClientError, ServerEvent, TalkerApi, api_error, server_events
from app.client.credentials import CredentialStore, Login
from app.core.config import BACKEND_DIR
from tests.client.conftest import Talker, ok

URL = "http://talker.test"


def test_server_events_are_parsed_from_lines() -> None:
    lines = [
        ": a comment",
        "event: delta",
        'data: {"text":',
        'data: "Hi"}',
        "",
        "",
        'data: {"n": 1}',
        "",
        "event: done",
        "data: {}",
    ]

    assert list(server_events(lines)) == [
        ServerEvent("delta", {"text": "Hi"}),
        ServerEvent("message", {"n": 1}),
        ServerEvent("done", {}),
    ]


def test_an_error_without_the_error_shape_names_the_status_and_url() -> None:
    request = httpx.Request("GET", f"{URL}/api/v1/auth/me")
    response = httpx.Response(502, text="<html>Bad gateway</html>", request=request)

    error = api_error(response)

    assert (error.status_code, error.code) == (502, "http_error")
    assert str(error) == f"502 Bad Gateway from {URL}/api/v1/auth/me"


def test_credentials_are_kept_per_server_readable_by_the_owner_only(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "talker" / "credentials.json")
    left_over = tmp_path / "talker" / "credentials.json.new"
    left_over.parent.mkdir()
    left_over.write_text("{}")
    left_over.chmod(0o644)

    store.put(URL, Login(email="ada@example.com", token="secret-token"))

    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.get(URL) == Login(email="ada@example.com", token="secret-token")
    assert store.get("http://elsewhere.test") is None
    store.forget("http://elsewhere.test")
    store.forget(URL)
    assert store.get(URL) is None


def test_an_unreadable_credentials_file_is_named(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "credentials.json")
    store.path.write_text("{not json")

    with pytest.raises(ClientError, match=r"cannot read .*credentials\.json"):
        store.get(URL)


@pytest.fixture
def talker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Talker:
    monkeypatch.setattr(TalkerApi, "create_conversation", lambda self: "conversation-1")
    return Talker(URL, tmp_path)


def answer_events(*events: ServerEvent) -> Any:
    def ask(self: TalkerApi, *args: object) -> Iterator[ServerEvent]:
        yield from events

    return ask


CITATION = {
    "number": 1,
    "title": "A talk",
    "youtube_video_id": "dQw4w9WgXcQ",
    "moment_seconds": 3725.5,
    "url": "https://youtu.be/dQw4w9WgXcQ?t=3725",
}


def test_the_answer_is_printed_as_it_arrives(
    talker: Talker, monkeypatch: pytest.MonkeyPatch
) -> None:
    printed_before_the_end: list[str] = []

    def ask(self: TalkerApi, *args: object) -> Iterator[ServerEvent]:
        yield ServerEvent("delta", {"text": "Bake it "})
        sys.stdout.flush()
        printed_before_the_end.append(cast(io.BytesIO, sys.stdout.buffer).getvalue().decode())
        yield ServerEvent("delta", {"text": "hot [1]."})
        yield ServerEvent("done", {"metadata": {"citations": [CITATION]}})

    monkeypatch.setattr(TalkerApi, "ask", ask)

    result = ok(talker("ask", "How?"))

    assert printed_before_the_end == ["Bake it "]
    assert result.output.startswith("Bake it hot [1].\n[1] A talk at 1:02:05\n")
    assert "    https://youtu.be/dQw4w9WgXcQ?t=3725\n" in result.output


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (
            [
                ServerEvent("delta", {"text": "Half"}),
                ServerEvent("error", {"error": {"message": "The language model failed: 503"}}),
            ],
            "error: The language model failed: 503\n",
        ),
        (
            [ServerEvent("delta", {"text": "Half"})],
            "error: the answer was cut off before its end\n",
        ),
    ],
)
def test_an_answer_that_fails_midway_exits_1_with_the_reason(
    talker: Talker, monkeypatch: pytest.MonkeyPatch, events: list[ServerEvent], message: str
) -> None:
    monkeypatch.setattr(TalkerApi, "ask", answer_events(*events))

    result = talker("ask", "How?")

    assert result.exit_code == 1
    assert result.stdout == "Half\n"
    assert result.stderr == message


def job(status: str, attempts: int = 0, error: str | None = None) -> dict[str, Any]:
    return {
        "id": "job-1",
        "youtube_video_id": "dQw4w9WgXcQ",
        "status": status,
        "attempts": attempts,
        "max_attempts": 5,
        "error": error,
        "transcript_id": "transcript-1",
    }


def test_ingest_polls_the_job_until_it_ends(
    talker: Talker, monkeypatch: pytest.MonkeyPatch
) -> None:
    states = iter([job("running", 1), job("queued", 1, "HTTP 429"), job("done", 2)])
    seen: list[str] = []
    describe = cli.job_state

    def described(job: dict[str, Any]) -> str:
        seen.append(describe(job))
        return seen[-1]

    monkeypatch.setattr(cli, "JOB_POLL_SECONDS", 0)
    monkeypatch.setattr(TalkerApi, "ingest", lambda self, video, languages: job("queued"))
    monkeypatch.setattr(TalkerApi, "job", lambda self, job_id: next(states))
    monkeypatch.setattr(cli, "job_state", described)
    transcript = {"title": None, "youtube_video_id": "dQw4w9WgXcQ", "duration": 61}
    monkeypatch.setattr(TalkerApi, "transcript", lambda self, transcript_id: transcript)

    result = ok(talker("ingest", "dQw4w9WgXcQ"))

    assert result.output == "Stored dQw4w9WgXcQ (1:01): transcript transcript-1\n"
    assert seen == [
        "dQw4w9WgXcQ: queued",
        "dQw4w9WgXcQ: running, attempt 1 of 5",
        "dQw4w9WgXcQ: waiting to try again (HTTP 429)",
        "dQw4w9WgXcQ: done, attempt 2 of 5",
    ]


def test_the_server_side_commands_are_mounted_as_admin(talker: Talker) -> None:
    assert "admin" in ok(talker("--help")).output

    admin = ok(talker("admin", "--help")).output

    assert "grant-admin" in admin
    assert "embed-missing" in admin


def test_the_help_lists_admin_without_loading_the_server_side() -> None:
    """`talker --help` names `admin` from its own line: importing the server's commands (its
    database stack) made every `--help` take a second more."""
    listing = (
        "import sys\n"
        "from app.client.cli import main\n"
        "sys.argv = ['talker', '--help']\n"
        "try:\n    main()\n"
        "except SystemExit:\n    print('app.cli' in sys.modules, 'app.db.session' in sys.modules)\n"
    )
    result = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", listing],
        cwd=BACKEND_DIR,
        env={"COLUMNS": "120", "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "admin" in result.stdout
    assert "On the server itself" in result.stdout
    assert result.stdout.splitlines()[-1] == "False False"


@pytest.mark.slow
def test_python_dash_m_runs_the_client() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TALKER_")}
    result = subprocess.run(
        [sys.executable, "-m", "app.client", "--help"],
        cwd=BACKEND_DIR,
        env=environment | {"COLUMNS": "120"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "ingest" in result.stdout


def test_a_url_without_http_is_refused(talker: Talker) -> None:
    result = talker("--url", "localhost:8000", "whoami")

    assert result.exit_code == 2
    assert "not an http:// or https:// URL: 'localhost:8000'" in result.output


def test_interrupting_the_wait_leaves_the_job_running(
    talker: Talker, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: TalkerApi, job_id: str) -> dict[str, Any]:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "JOB_POLL_SECONDS", 0)
    monkeypatch.setattr(TalkerApi, "ingest", lambda self, video, languages: job("queued"))
    monkeypatch.setattr(TalkerApi, "job", interrupted)

    result = talker("ingest", "dQw4w9WgXcQ")

    assert result.exit_code == 130
    assert "Stopped waiting; job job-1 goes on on the server." in result.output
