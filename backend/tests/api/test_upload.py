import httpx
import pytest

from tests.api.conftest import Account, assert_error

UPLOAD = "/api/v1/transcripts/upload"

SRT = """1
00:00:01,250 --> 00:00:04,000
Welcome to the <i>talk</i> about queues &amp; workers.

2
00:00:04,500 --> 00:00:09,000
Workers claim jobs with SKIP LOCKED.
"""

VTT = """WEBVTT

00:00:00.000 --> 00:00:03.500 align:start
<v Speaker>Hello and welcome.

00:00:03.500 --> 00:00:07.250
Today: PostgreSQL full-text search.
"""


async def upload(
    client: httpx.AsyncClient,
    account: Account,
    content: bytes,
    filename: str,
    video: str = "upload00001",
) -> httpx.Response:
    return await client.post(
        UPLOAD,
        data={"video": video, "title": "Uploaded"},
        files={"file": (filename, content, "application/octet-stream")},
        headers=account.headers,
    )


@pytest.mark.parametrize(
    ("content", "filename", "text", "start", "end"),
    [
        (SRT, "talk.srt", "Welcome to the talk about queues & workers. Workers claim", 1.25, 9.0),
        (VTT, "talk.vtt", "Hello and welcome. Today: PostgreSQL full-text search.", 0.0, 7.25),
        ("\ufeff" + VTT, "no-extension", "Hello and welcome.", 0.0, 7.25),
    ],
)
async def test_caption_files_keep_their_timings(
    client: httpx.AsyncClient,
    alice: Account,
    content: str,
    filename: str,
    text: str,
    start: float,
    end: float,
) -> None:
    response = await upload(client, alice, content.encode(), filename)

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["title"] == "Uploaded"
    assert created["chunk_count"] == 1
    transcript = (
        await client.get(f"/api/v1/transcripts/{created['id']}", headers=alice.headers)
    ).json()
    assert transcript["transcript_text"].startswith(text)
    assert transcript["metadata"]["source"] == "upload"
    chunk = (
        await client.get(f"/api/v1/transcripts/{created['id']}/chunks", headers=alice.headers)
    ).json()["items"][0]
    assert chunk["metadata"] == {"start_seconds": start, "end_seconds": end}


@pytest.mark.parametrize(
    ("content", "filename", "field"),
    [
        (b"this is not a caption file", "notes.srt", "body.file"),
        (b"WEBVTT\n\n", "empty.vtt", "body.file"),
        ("caf\u00e9".encode("latin-1"), "latin.srt", "body.file"),
    ],
)
async def test_bad_files_are_422_naming_the_file(
    client: httpx.AsyncClient, alice: Account, content: bytes, filename: str, field: str
) -> None:
    error = assert_error(await upload(client, alice, content, filename), 422, "validation_error")
    assert error["details"][0]["field"] == field


async def test_a_bad_video_or_a_duplicate_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    bad = assert_error(
        await upload(client, alice, SRT.encode(), "a.srt", video="https://vimeo.com/1"),
        422,
        "validation_error",
    )
    assert bad["details"][0]["field"] == "body.video"
    assert (await upload(client, alice, SRT.encode(), "a.srt")).status_code == 201
    assert_error(await upload(client, alice, SRT.encode(), "a.srt"), 409, "conflict")
    missing_file = await client.post(UPLOAD, data={"video": "upload00002"}, headers=alice.headers)
    assert_error(missing_file, 422, "validation_error")
