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
    assert chunk["metadata"]["start_seconds"] == start
    assert chunk["metadata"]["end_seconds"] == end
    assert chunk["metadata"]["moments"][0] == [0, start]  # where each caption starts


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (SRT.replace("workers", "caf\u00e9s").encode("cp1252"), "windows.srt"),
        (SRT.replace("workers", "caf\u00e9s").encode("utf-16"), "utf16.srt"),
        (SRT.replace("workers", "caf\u00e9s").encode(), "saved-as.vtt"),
        (
            ("\n\n" + SRT.replace("workers", "caf\u00e9s").replace("1\n", "1 \n", 1)).encode(),
            "loose.srt",
        ),
        (VTT.replace("WEBVTT", "webvtt").replace("workers", "caf\u00e9s").encode(), "lower.vtt"),
    ],
)
async def test_caption_files_as_common_tools_save_them_are_read(
    client: httpx.AsyncClient, alice: Account, content: bytes, filename: str
) -> None:
    """Windows-1252 and UTF-16 text, SRT under a .vtt name, a blank line before the first cue,
    a space after a cue number, a WebVTT header in small letters."""
    created = await upload(client, alice, content, filename)

    assert created.status_code == 201, created.text
    text = (
        await client.get(f"/api/v1/transcripts/{created.json()['id']}", headers=alice.headers)
    ).json()["transcript_text"]
    assert text.startswith(("Welcome", "Hello"))
    if "SKIP" in text:
        assert "caf\u00e9s" in text
        assert text.endswith("SKIP LOCKED.")


@pytest.mark.parametrize(
    ("content", "filename", "field"),
    [
        (b"this is not a caption file", "notes.srt", "body.file"),
        (b"WEBVTT\n\n", "empty.vtt", "body.file"),
        (b"1\n00:00:01,000 --> 00:00:02,000\n\x81\x8d\n", "binary.srt", "body.file"),
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


def srt(*cues: tuple[str, str, str]) -> bytes:
    blocks = [f"{n}\n{start} --> {end}\n{text}\n" for n, (start, end, text) in enumerate(cues, 1)]
    return "\n".join(blocks).encode()


async def test_cues_out_of_order_are_stored_in_order_of_their_start(
    client: httpx.AsyncClient, alice: Account
) -> None:
    content = srt(
        ("00:05:00,000", "00:05:04,000", "Finally the closing words."),
        ("00:00:00,000", "00:00:04,000", "First the opening words."),
        ("00:02:00,000", "00:02:04,000", "Then the middle part."),
    )
    created = await upload(client, alice, content, "shuffled.srt")
    assert created.status_code == 201, created.text
    assert created.json()["duration"] == 304  # the last cue's end
    transcript_id = created.json()["id"]

    detail = (
        await client.get(f"/api/v1/transcripts/{transcript_id}", headers=alice.headers)
    ).json()
    assert detail["transcript_text"].startswith("First the opening words. Then the middle part.")
    starts = [segment["start"] for segment in detail["metadata"]["segments"]]
    assert starts == sorted(starts)
    chunks = await client.get(f"/api/v1/transcripts/{transcript_id}/chunks", headers=alice.headers)
    for chunk in chunks.json()["items"]:
        assert chunk["metadata"]["start_seconds"] <= chunk["metadata"]["end_seconds"]


async def test_a_cue_ending_before_it_starts_is_refused_with_its_number(
    client: httpx.AsyncClient, alice: Account
) -> None:
    content = srt(
        ("00:00:00,000", "00:00:04,000", "Fine."),
        ("00:00:09,000", "00:00:05,000", "Ends before it starts."),
    )
    response = await upload(client, alice, content, "backwards.srt")
    error = assert_error(response, 422, "validation_error")
    assert "cue 2 ends before it starts" in error["message"]
    assert error["details"][0]["field"] == "body.file"


async def test_a_cue_later_than_any_video_is_refused_with_its_number(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Instead of reaching the database as a number its columns cannot hold (an error with no
    field named), or being stored as a duration of 11 years."""
    for end in ("99999:00:00,000", "999999:00:00,000"):
        content = srt(("00:00:00,000", "00:00:04,000", "Fine."), ("00:00:05,000", end, "Late."))
        response = await upload(client, alice, content, "late.srt")
        error = assert_error(response, 422, "validation_error")
        written = end.replace(",", ".")  # as webvtt-py writes it back
        assert f"cue 2 ends at {written}, later than any video" in error["message"]
        assert error["details"][0]["field"] == "body.file"


async def test_overlapping_cues_are_kept_and_empty_ones_skipped(
    client: httpx.AsyncClient, alice: Account
) -> None:
    content = srt(
        ("00:00:00,000", "00:00:06,000", "Speaker one talks over"),
        ("00:00:03,000", "00:00:08,000", "speaker two at the same time."),
        ("00:00:08,000", "00:00:09,000", "<i> </i>"),
    )
    created = await upload(client, alice, content, "overlap.srt")
    assert created.status_code == 201, created.text
    assert created.json()["duration"] == 8
    detail = await client.get(f"/api/v1/transcripts/{created.json()['id']}", headers=alice.headers)
    assert [s["text"] for s in detail.json()["metadata"]["segments"]] == [
        "Speaker one talks over",
        "speaker two at the same time.",
    ]


async def test_a_file_of_empty_cues_is_refused(client: httpx.AsyncClient, alice: Account) -> None:
    content = srt(("00:00:00,000", "00:00:02,000", "<b></b>"))
    response = await upload(client, alice, content, "empty.srt")
    assert "has no captions" in assert_error(response, 422, "validation_error")["message"]


async def test_a_file_sent_as_a_text_field_is_told_to_be_a_file(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sent = await client.post(
        UPLOAD, data={"video": "upload00003", "file": SRT}, headers=alice.headers
    )

    error = assert_error(sent, 422, "validation_error")
    assert error["details"][0]["field"] == "body.file"
    assert "must be a file" in error["details"][0]["message"]
    assert "UploadFile" not in sent.text


async def test_a_json_body_sent_to_the_upload_is_told_to_send_a_form(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sent = await client.post(
        "/api/v1/transcripts/upload",
        json={"video": "jsonUpload1", "file": "1\n00:00:00,000 --> 00:00:01,000\nHi.\n"},
        headers=alice.headers,
    )

    error = assert_error(sent, 415, "unsupported_media_type")
    assert "multipart/form-data" in error["message"]
    assert "application/json" in error["message"]
