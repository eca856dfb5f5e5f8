"""The labelled talks (testkit/talks) stored through the API, for tests that need videos."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import BACKEND_DIR, get_settings
from app.services.ingest_worker import IngestWorker
from app.services.llm import LanguageModel
from app.services.youtube.fetcher import YouTubeFetcher
from testkit.labelled_set import CHUNK_TOKENS, TALKS
from tests.api.conftest import Account, build_app, client_for, savepoint_unit_of_work, sign_up
from tests.offline_model import embedder_for


async def ingest_talks(client: httpx.AsyncClient, account: Account) -> dict[str, str]:
    """The labelled talks as transcripts; returns video id → transcript id."""
    ids = {}
    for talk in TALKS:
        response = await client.post(
            "/api/v1/transcripts",
            json={"video": talk.video_id, "title": talk.title, "segments": talk.segments()},
            headers=account.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["chunk_count"] > 1
        ids[talk.video_id] = response.json()["id"]
    return ids


@asynccontextmanager
async def talking_to(
    session: AsyncSession, model: LanguageModel, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Account]]:
    """A client on an app answering with `model`, and an account that owns the talks."""
    app = build_app(session, chunk_tokens=CHUNK_TOKENS, **settings)
    app.state.language_model = model
    async with client_for(app) as client:
        account = await sign_up(client)
        await ingest_talks(client, account)
        yield client, account


# The README's example captions: a short talk of one chunk and several passages.
EXAMPLE_TALK = BACKEND_DIR.parent / "examples" / "talk.srt"


def cues_of(srt: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue of an SRT file."""
    cues = []
    for block in srt.strip().split("\n\n"):
        _, timing, *text = block.splitlines()
        start, end = (
            sum(
                float(part) * scale
                for part, scale in zip(t.replace(",", ".").split(":"), (3600, 60, 1), strict=True)
            )
            for t in timing.split(" --> ")
        )
        cues.append((start, end, " ".join(text)))
    return cues


async def upload_captions(
    client: httpx.AsyncClient, account: Account, video: str, srt: str
) -> None:
    """An SRT file uploaded as the video's captions."""
    uploaded = await client.post(
        "/api/v1/transcripts/upload",
        data={"video": video},
        files={"file": ("talk.srt", srt.encode())},
        headers=account.headers,
    )
    assert uploaded.status_code == 201, uploaded.text


async def upload_example_talk(client: httpx.AsyncClient, account: Account) -> str:
    """The README's example captions, uploaded as `exampleTalk`; returns their text."""
    srt = EXAMPLE_TALK.read_text(encoding="utf-8")
    await upload_captions(client, account, "exampleTalk", srt)
    return srt


async def embed_queued(session: AsyncSession) -> None:
    """Run the queued jobs (the uploads' embed jobs) to the end, in the test's transaction:
    the videos are then found by meaning as well as by words, as under `make run`."""
    settings = get_settings()
    worker = IngestWorker(
        asynccontextmanager(savepoint_unit_of_work(session)),
        YouTubeFetcher,
        settings,
        embedder=embedder_for(settings),
    )
    while await worker.run_once():
        pass
