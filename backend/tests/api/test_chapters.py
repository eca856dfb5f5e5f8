"""Chapters per transcript: the video's own when its description lists them, else found where
its topics change; each with a title, a summary and a link to its moment."""

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import get_settings
from app.db.repositories import UserRepository
from app.db.session import Database
from app.services.extract import Passage
from app.services.ingest_worker import IngestWorker
from app.services.llm import ChatMessage, Completion, OpenAICompatibleModel
from app.services.passage_embeddings import Embedder
from app.services.youtube.fetcher import YouTubeFetcher
from testkit.corpus import TALKS_DIR, load_talks
from testkit.llm_server import FakeLLM, serving
from tests.api.conftest import (
    Account,
    assert_error,
    build_app,
    client_for,
    new_app,
    savepoint_unit_of_work,
    sign_up,
)
from tests.api.ingesting import ingest, job, talk, worker_for
from tests.fakes import HashingEmbedder, ScriptedModel
from tests.retrieval.chapters_report import TOLERANCE_SECONDS, score

TALK_FILE = "covid_briefing_2021_02_08.json"  # of the test split


async def store(client: httpx.AsyncClient, account: Account, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/transcripts", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    stored: dict[str, Any] = response.json()
    return stored


async def chapters_of(
    client: httpx.AsyncClient, account: Account, transcript_id: str
) -> dict[str, Any]:
    response = await client.get(
        f"/api/v1/transcripts/{transcript_id}/chapters", headers=account.headers
    )
    assert response.status_code == 200, response.text
    outline: dict[str, Any] = response.json()
    return outline


async def test_a_long_talk_is_outlined_where_its_topics_change(
    client: httpx.AsyncClient, alice: Account
) -> None:
    marked = json.loads((TALKS_DIR / "chapters.json").read_text(encoding="utf-8"))["talks"]
    changes = [change["second"] for change in marked[TALK_FILE]["changes"]]
    briefing = next(t for t in load_talks() if t.video_id == marked[TALK_FILE]["video_id"])
    segments = [
        {"text": s.text, "start": s.start, "duration": s.duration} for s in briefing.segments
    ]
    stored = await store(client, alice, video=briefing.video_id, segments=segments)

    outline = await chapters_of(client, alice, stored["id"])
    again = await chapters_of(client, alice, stored["id"])

    chapters = outline["chapters"]
    starts = [chapter["start_seconds"] for chapter in chapters]
    assert outline["source"] == "computed"
    assert again == outline  # found once, then read
    assert starts[0] < 30
    assert starts == sorted(starts)
    assert 4 <= len(chapters) <= 3 * len(changes)
    for chapter in chapters:
        assert chapter["title"].strip()
        assert len(chapter["summary"].split()) >= 5
        assert chapter["summary"].split()[0] in briefing.text
        assert (
            chapter["url"]
            == f"https://youtu.be/{briefing.video_id}?t={int(chapter['start_seconds'])}"
        )
    found = score(changes, starts[1:])
    assert found.recall >= 0.7, (found, TOLERANCE_SECONDS)
    assert outline["summary"]


async def test_a_description_that_lists_chapters_gives_them(
    client: httpx.AsyncClient, alice: Account
) -> None:
    description = "Bread at home.\n\n0:00 Welcome\n1:30 The starter\n3:05 - Baking day\n"
    segments = [
        {
            "text": f"Sentence {i} on starters and loaves and ovens.",
            "start": i * 5.0,
            "duration": 5.0,
        }
        for i in range(60)
    ]
    stored = await store(
        client, alice, video="Bread000001", segments=segments, metadata={"description": description}
    )

    outline = await chapters_of(client, alice, stored["id"])

    assert outline["source"] == "description"
    assert [(c["title"], c["start_seconds"]) for c in outline["chapters"]] == [
        ("Welcome", 0.0),
        ("The starter", 90.0),
        ("Baking day", 185.0),
    ]
    assert outline["chapters"][1]["end_seconds"] == 185.0


async def test_an_untimed_transcript_has_no_chapters_and_others_are_not_found(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    stored = await store(client, alice, video="Untimed0001", transcript_text="Just words. " * 300)

    outline = await chapters_of(client, alice, stored["id"])
    foreign = await client.get(f"/api/v1/transcripts/{stored['id']}/chapters", headers=bob.headers)

    assert outline["chapters"] == []
    assert outline["source"] is None
    assert_error(foreign, 404, "not_found")


async def test_a_fetched_video_keeps_its_description_and_its_chapters(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    description = "0:00 Queues\n2:00 Locks\n4:00 Vacuum"
    queued = await ingest(client, alice)
    assert await worker_for(session, talk(description=description)).run_once() is True
    done = await job(client, alice, queued.json()["id"])

    outline = await chapters_of(client, alice, done["transcript_id"])

    assert [c["title"] for c in outline["chapters"]] == ["Queues", "Locks", "Vacuum"]


# Six topics of twenty timed lines: a two-minute talk with chapters to find.
SEGMENTS = [
    {"text": f"Part {i // 20} sentence {i} on topic {i // 20}.", "start": i * 6.0, "duration": 6.0}
    for i in range(120)
]
NAMED = "\n".join(f"{n} | Named chapter {n} | What part {n} says. And more." for n in range(1, 31))


async def outline_with_model(
    session: AsyncSession, alice: Account, llm: FakeLLM
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    async with serving(llm) as base_url:
        settings = get_settings().model_copy(
            update={"llm_base_url": base_url, "llm_api_key": SecretStr("k"), "llm_max_retries": 0}
        )
        app = build_app(session)
        app.state.language_model = OpenAICompatibleModel(settings)
        try:
            async with client_for(app) as client:
                stored = await store(client, alice, video="Named000001", segments=SEGMENTS)
                outline = await chapters_of(client, alice, stored["id"])
                usage = (await client.get("/api/v1/usage", headers=alice.headers)).json()
        finally:
            await app.state.language_model.aclose()
    return outline, usage["daily"]


async def test_a_configured_language_model_names_the_chapters_on_the_owners_tokens(
    session: AsyncSession, alice: Account
) -> None:
    outline, daily = await outline_with_model(session, alice, FakeLLM(answer=NAMED))

    assert outline["source"] == "model"
    assert outline["chapters"][0]["title"] == "Named chapter 1"
    assert outline["chapters"][0]["summary"] == "What part 1 says. And more."
    assert sum(day["prompt_tokens"] + day["completion_tokens"] for day in daily) == 49


@pytest.mark.slow
async def test_a_failing_or_garbled_model_leaves_the_titles_found_from_the_words(
    session: AsyncSession, alice: Account, bob: Account
) -> None:
    failed, failed_usage = await outline_with_model(session, alice, FakeLLM(failures=[500] * 5))
    garbled, garbled_usage = await outline_with_model(
        session, bob, FakeLLM(answer="Sure! Here you go.")
    )

    assert failed["source"] == "computed"
    assert garbled["source"] == "computed"
    assert all(chapter["title"] for chapter in failed["chapters"])
    assert sum(day["total_tokens"] for day in failed_usage) == 0  # the model never answered
    assert sum(day["total_tokens"] for day in garbled_usage) > 0  # it answered: the tokens count


class WatchedModel(ScriptedModel):
    """Names chapters as NAMED says, noting how many units of work are open at each request."""

    def __init__(self, open_units: Callable[[], int]) -> None:
        super().__init__(NAMED)
        self.open_units = open_units
        self.open_at_requests: list[int] = []

    async def complete(
        self, messages: Sequence[ChatMessage], passages: Sequence[Passage]
    ) -> Completion:
        self.open_at_requests.append(self.open_units())
        return await super().complete(messages, passages)


async def test_the_embed_job_names_chapters_with_no_transaction_open(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    """A language model may take seconds: the job holds no pooled connection meanwhile."""
    opened = 0
    unit_of_work = asynccontextmanager(savepoint_unit_of_work(session))

    @asynccontextmanager
    async def counted_unit_of_work() -> AsyncIterator[AsyncSession]:
        nonlocal opened
        opened += 1
        try:
            async with unit_of_work() as unit:
                yield unit
        finally:
            opened -= 1

    model = WatchedModel(lambda: opened)
    settings = get_settings()
    embedder = Embedder(settings, factory=lambda _: HashingEmbedder())
    worker = IngestWorker(counted_unit_of_work, YouTubeFetcher, settings, embedder, model)
    segments = [
        {
            "text": f"Part {i // 20} sentence {i} on topic {i // 20}.",
            "start": i * 6.0,
            "duration": 6,
        }
        for i in range(120)
    ]
    stored = await store(client, alice, video="Named000002", segments=segments)

    assert await worker.run_once() is True

    outline = await chapters_of(client, alice, stored["id"])
    assert model.open_at_requests == [0]
    assert outline["source"] == "model"
    assert outline["chapters"][0]["title"] == "Named chapter 1"
    usage = (await client.get("/api/v1/usage", headers=alice.headers)).json()
    assert sum(day["prompt_tokens"] + day["completion_tokens"] for day in usage["daily"]) == 110


async def test_a_first_read_names_chapters_with_no_connection_held(database: Database) -> None:
    """On the app's own engines, committed for real: while the model names the chapters of a
    transcript no job has outlined yet, the request holds no pooled connection."""
    app = new_app()
    pool = app.state.database.engine.pool
    model = WatchedModel(pool.checkedout)
    app.state.language_model = model
    try:
        async with client_for(app) as client:
            alice = await sign_up(client)
            stored = await store(client, alice, video="Named000003", segments=SEGMENTS)
            outline = await chapters_of(client, alice, stored["id"])
    finally:
        await app.state.database.dispose()
        async with database.unit_of_work() as session:
            await UserRepository(session).delete(uuid.UUID(alice.id))

    assert model.open_at_requests == [0]
    assert outline["source"] == "model"
