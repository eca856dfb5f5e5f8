"""The whole journey through the HTTP API, offline: ingest a link (replayed YouTube) → the job is
done → search finds the right moment → the chat answer cites it with a working timestamp link →
the streamed answer is the stored one → a draft renders its template."""

from urllib.parse import parse_qs, urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from testkit.labelled_set import CHUNK_TOKENS, TALKS
from testkit.youtube_video_artefacts import ReplayVideo
from tests.api.conftest import build_app, client_for, sign_up
from tests.api.ingesting import worker_for
from tests.api.test_chat import parse_sse

SOURDOUGH = TALKS[1]
OVEN_SENTENCE = 5  # "Bake at two hundred and fifty degrees Celsius in a covered Dutch oven..."
SECONDS_PER_CAPTION = 6.0


def replayed(talk_index: int) -> ReplayVideo:
    talk = TALKS[talk_index]
    captions = [
        (i * SECONDS_PER_CAPTION, SECONDS_PER_CAPTION, s) for i, s in enumerate(talk.sentences)
    ]
    return ReplayVideo(
        video_id=talk.video_id, title=talk.title, channel_name="Kitchen", captions=captions
    )


def seconds_in(url: str) -> int:
    assert urlsplit(url).netloc == "youtu.be"
    return int(parse_qs(urlsplit(url).query)["t"][0])


async def test_ingest_search_ask_stream_and_draft(session: AsyncSession) -> None:
    app = build_app(session, chunk_tokens=CHUNK_TOKENS, chunk_overlap=0.2)
    async with client_for(app) as client:
        account = await sign_up(client)
        headers = account.headers

        # 1. Ingest two videos by link; a worker fetches them from the replayed responses.
        jobs = []
        for index in (1, 5):
            link = f"https://www.youtube.com/watch?v={TALKS[index].video_id}&t=3s"
            queued = await client.post(
                "/api/v1/transcripts/ingest", json={"video": link}, headers=headers
            )
            assert queued.status_code == 202
            jobs.append(queued.json()["id"])
        worker = worker_for(session, replayed(1), replayed(5), chunk_tokens=CHUNK_TOKENS)
        assert await worker.run_once()
        assert await worker.run_once()
        for job_id in jobs:
            job = (await client.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()
            assert job["status"] == "done", job

        # 2. Search finds the chunk with the oven sentence, at the right moment.
        hits = (
            await client.get("/api/v1/search", params={"q": "Dutch oven"}, headers=headers)
        ).json()["hits"]
        top = hits[0]
        oven_at = OVEN_SENTENCE * SECONDS_PER_CAPTION
        assert top["youtube_video_id"] == SOURDOUGH.video_id
        assert top["start_seconds"] <= oven_at < top["end_seconds"]
        assert top["moment_seconds"] == oven_at
        assert seconds_in(top["url"]) == int(oven_at)

        # 3. Ask: the answer cites that chunk, and its link lands at or before the sentence.
        conversation = (await client.post("/api/v1/conversations", json={}, headers=headers)).json()
        url = f"/api/v1/conversations/{conversation['id']}/messages"
        question = {"content": "How hot should the oven be for sourdough bread?"}
        answer = (await client.post(url, json=question, headers=headers)).json()[
            "assistant_message"
        ]
        cited = [
            c for c in answer["metadata"]["citations"] if f"[{c['number']}]" in answer["content"]
        ]
        oven_citations = [c for c in cited if c["youtube_video_id"] == SOURDOUGH.video_id]
        assert oven_citations, answer
        assert any(
            c["start_seconds"] <= oven_at < c["end_seconds"] and seconds_in(c["url"]) <= oven_at
            for c in oven_citations
        )

        # 4. The same question streamed: what arrives is what is stored.
        streamed = await client.post(
            url, json=question, headers={**headers, "Accept": "text/event-stream"}
        )
        events = parse_sse(streamed.text)
        text = "".join(data["text"] for name, data in events if name == "delta")
        history = (await client.get(url, params={"limit": 100}, headers=headers)).json()["items"]
        assert events[-1][0] == "done"
        assert history[-1]["content"] == text == events[-1][1]["content"]

        # 5. A draft from the built-in blog template, on what the videos say.
        draft = (
            await client.post(
                "/api/v1/drafts",
                json={"template_type": "blog", "topic": "sourdough baking"},
                headers=headers,
            )
        ).json()
        assert draft["prompt"].startswith("Write a blog post about sourdough baking")
        assert SOURDOUGH.title in draft["prompt"]
        assert draft["text"]

        usage = (await client.get("/api/v1/usage", params={"days": 1}, headers=headers)).json()
        assert usage["daily"][0]["calls"] == 3  # two answers and one draft
