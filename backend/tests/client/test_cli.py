"""`talker` against a real server: log in, upload, ingest, ask, search, API keys, errors."""

import json
import stat
import uuid
from pathlib import Path

import httpx
import pytest

from testkit.replayed_server import BAKING, COURSE, LESSONS, PRIVATE
from tests.client.conftest import PASSWORD, Talker, ok, signed_up
from tests.service.conftest import free_port

pytestmark = pytest.mark.slow  # a server process of its own

CAPTIONS = """1
00:00:01,000 --> 00:00:04,000
Welcome to the bakery.

2
00:01:23,000 --> 00:01:27,000
Bake the sourdough loaf at 250 degrees for forty minutes.
"""


@pytest.fixture
def talker(talker_url: str, tmp_path: Path) -> Talker:
    return Talker(talker_url, tmp_path / "config")


def new_email() -> str:
    return f"terminal-{uuid.uuid4().hex[:10]}@example.com"


def stored_login(talker: Talker) -> dict[str, str]:
    login: dict[str, str] = json.loads(talker.credentials.read_text())["servers"][
        talker.env["TALKER_URL"]
    ]
    return login


def upload_captions(talker: Talker, folder: Path, video: str = "dQw4w9WgXcQ") -> str:
    captions = folder / "talk.srt"
    captions.write_text(CAPTIONS)
    return ok(talker("upload", str(captions), "--video", video, "--title", "Sourdough")).output


def test_login_keeps_the_token_private_and_never_prints_it(talker: Talker) -> None:
    email = new_email()
    registered = talker("register", input=f"{email}\n{PASSWORD}\n{PASSWORD}\n")
    assert "Password" in ok(registered).output  # asked for, twice, and never echoed
    assert PASSWORD not in registered.output
    assert f"Logged in to {talker.env['TALKER_URL']} as {email}" in registered.output
    assert email in ok(talker("whoami")).output  # registering logged in
    taken = talker("register", input=f"{email}\nanother password\nanother password\n")
    assert taken.exit_code == 1
    assert "log in with the password" in taken.output  # nothing said of whose it is
    logged_in = ok(talker("login", input=f"{email}\n{PASSWORD}\n"))
    assert PASSWORD not in logged_in.output

    assert f"Logged in to {talker.env['TALKER_URL']} as {email}" in logged_in.output
    assert stat.S_IMODE(talker.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(talker.credentials.parent.stat().st_mode) == 0o700
    stored = stored_login(talker)
    assert stored["email"] == email
    whoami = ok(talker("whoami"))
    assert email in whoami.output
    assert stored["token"] not in logged_in.output + whoami.output


def test_login_then_ask_streams_the_answer_and_links_to_the_moment(
    talker: Talker, tmp_path: Path
) -> None:
    signed_up(talker, new_email())
    uploaded = upload_captions(talker, tmp_path)
    assert "Stored Sourdough: 1 chunk," in uploaded

    answered = ok(talker("ask", "At how many degrees do I bake the sourdough loaf?"))

    assert "Bake the sourdough loaf at 250 degrees for forty minutes. [1]" in answered.output
    assert "[1] Sourdough at 1:23" in answered.output
    assert "https://youtu.be/dQw4w9WgXcQ?t=83" in answered.output


def test_ask_goes_on_in_a_conversation_and_within_chosen_videos(
    talker: Talker, tmp_path: Path
) -> None:
    signed_up(talker, new_email())
    upload_captions(talker, tmp_path)
    first = ok(talker("ask", "How long does the loaf bake?"))
    conversation = first.output.split("talker ask -c ")[1].split()[0]

    again = talker(
        "ask", "-c", conversation, "-v", "https://youtu.be/dQw4w9WgXcQ", "How hot is the loaf?"
    )

    assert "?t=83" in ok(again).output
    messages = httpx.get(
        f"{talker.env['TALKER_URL']}/api/v1/conversations/{conversation}/messages",
        headers={"Authorization": f"Bearer {stored_login(talker)['token']}"},
    )
    assert messages.json()["total"] == 4  # both questions and answers, in one conversation
    unknown = talker("ask", "--video", "Unknown0000", "How hot?")
    assert unknown.exit_code == 1
    assert "no transcript of video Unknown0000" in unknown.output


def test_ingest_shows_the_job_until_done_then_search_videos_and_draft_find_it(
    talker: Talker,
) -> None:
    signed_up(talker, new_email())

    ingested = ok(talker("ingest", f"https://www.youtube.com/watch?v={BAKING.video_id}"))

    assert f"Stored {BAKING.title} (0:12): transcript " in ingested.output
    again = ok(talker("ingest", "--no-wait", "-l", "en", BAKING.video_id)).output
    assert f"{BAKING.video_id}: done, attempt 1 of " in again  # the job that stored it
    listed = ok(talker("videos")).output
    assert BAKING.video_id in listed
    assert BAKING.title in listed
    assert listed.startswith("1 video ")
    transcript_id = ingested.output.split(": transcript ")[1].split()[0].rstrip(".")
    assert transcript_id in listed  # whole on its line, to be copied, though not a terminal
    found = ok(talker("search", "rye starter feeding")).output
    assert f"https://youtu.be/{BAKING.video_id}?t=4" in found
    assert "rye" in found
    assert "No passage" in ok(talker("search", "quantum chromodynamics")).output
    drafted = ok(talker("draft", "linkedin", "feeding a rye starter")).output
    assert f"https://youtu.be/{BAKING.video_id}" in drafted


def test_a_failed_ingest_prints_the_reason_and_exits_1(talker: Talker) -> None:
    signed_up(talker, new_email())

    failed = talker("ingest", PRIVATE.video_id)

    assert failed.exit_code == 1
    assert f"error: {PRIVATE.video_id} failed:" in failed.stderr
    assert "cannot be played" in failed.stderr


def test_an_api_key_works_instead_of_a_login(talker: Talker, tmp_path: Path) -> None:
    email = new_email()
    signed_up(talker, email)
    created = ok(
        talker("keys", "create", "laptop", "--scope", "read", "--expires-in-days", "30")
    ).output
    secret = created.strip().splitlines()[-1]
    assert secret.startswith("ytk_")
    listed = ok(talker("keys", "list")).output
    assert secret not in listed
    assert "read" in listed
    assert "write" not in listed

    elsewhere = Talker(talker.env["TALKER_URL"] or "", tmp_path / "no-login")
    assert email in ok(elsewhere("whoami", TALKER_API_KEY=secret)).output
    assert email in ok(elsewhere("--api-key", secret, "whoami")).output
    assert not elsewhere.credentials.exists()

    key_id = created.split("(")[1].split(")")[0]
    assert f"Revoked {key_id}" in ok(talker("keys", "revoke", key_id)).output
    refused = elsewhere("whoami", TALKER_API_KEY=secret)
    assert refused.exit_code == 1
    assert "error: The API key is unknown, revoked or expired." in refused.stderr


def test_logout_revokes_and_forgets_the_token(talker: Talker) -> None:
    signed_up(talker, new_email())
    login = stored_login(talker)

    assert "Logged out" in ok(talker("logout")).output

    assert json.loads(talker.credentials.read_text())["servers"] == {}
    assert "Not logged in" in ok(talker("logout")).output
    talker.credentials.write_text(json.dumps({"servers": {talker.env["TALKER_URL"]: login}}))
    assert talker("whoami").exit_code == 1  # the token no longer works on the server
    assert "Logged out" in ok(talker("logout")).output  # a dead token is forgotten all the same
    assert json.loads(talker.credentials.read_text())["servers"] == {}


def test_an_error_response_is_shown_as_its_message(talker: Talker, tmp_path: Path) -> None:
    anonymous = talker("videos")
    assert anonymous.exit_code == 1
    assert "error: Missing or invalid credentials." in anonymous.stderr
    assert "talker login" in anonymous.stderr

    signed_up(talker, new_email())
    missing = str(uuid.uuid4())
    lost = talker("ask", "--conversation", missing, "Hello?")
    assert lost.exit_code == 1
    assert lost.stderr == f"error: Conversation {missing} was not found\n"

    broken = tmp_path / "broken.srt"
    broken.write_text("1\n00:00:05,000 --> 00:00:01,000\nBackwards.\n")
    refused = talker("upload", str(broken), "--video", "dQw4w9WgXcQ")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: ")
    assert "body.file" in refused.stderr


def test_an_unreachable_server_is_one_line_naming_it(talker: Talker) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = talker("whoami", TALKER_URL=url)

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot reach {url}: ")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_playlist_is_followed_with_a_bar_until_its_videos_are_in(talker: Talker) -> None:
    signed_up(talker, new_email())
    link = f"https://www.youtube.com/playlist?list={COURSE.playlist_id}"

    added = ok(talker("collections", "add", link))
    listed = ok(talker("collections", "list")).output
    outline = ok(talker("chapters", LESSONS[0].video_id)).output

    assert "Bread course: 3 done, 1 failed, 0 pending" in added.output
    assert "Lesson00004" in added.output  # the private one, with its reason
    assert "4/4" in added.output  # the bar, at its end
    assert "Bread course" in listed
    assert "0:50  The starter" in outline
    assert f"https://youtu.be/{LESSONS[0].video_id}?t=50" in outline


def test_an_id_that_is_not_one_is_a_usage_error_naming_it(talker: Talker) -> None:
    """Not the server's bare "Not Found" for a path no route has."""
    signed_up(talker, new_email())
    for command in (["collections", "show", "123"], ["collections", "refresh", "123"]):
        result = talker(*command)
        assert result.exit_code == 2, result.output
        assert "'123' is not a valid UUID" in result.output
