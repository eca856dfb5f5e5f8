import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import UsageEvent
from app.db.repositories import UsageRepository
from testkit.labelled_set import CHUNK_TOKENS
from tests.api.conftest import Account, ClientFactory, assert_error, sign_up
from tests.api.talks import (
    cues_of,
    embed_queued,
    ingest_talks,
    talking_to,
    upload_captions,
    upload_example_talk,
)
from tests.api.test_chat import DeletingModel
from tests.fakes import ScriptedModel

DRAFTS = "/api/v1/drafts"


@pytest.fixture
async def talks_client(make_client: ClientFactory) -> httpx.AsyncClient:
    return make_client(chunk_tokens=CHUNK_TOKENS, chunk_overlap=0.2)


async def test_a_draft_fills_the_builtin_template_from_the_videos(
    talks_client: httpx.AsyncClient,
) -> None:
    async with talks_client as client:
        account = await sign_up(client)
        await ingest_talks(client, account)
        response = await client.post(
            DRAFTS,
            json={
                "template_type": "linkedin",
                "topic": "sourdough oven temperature",
                "tone": "warm",
            },
            headers=account.headers,
        )

    assert response.status_code == 200, response.text
    draft = response.json()
    assert draft["template_type"] == "linkedin"
    prompt = draft["prompt"]
    assert prompt.startswith(
        "Write a LinkedIn post about sourdough oven temperature in a warm tone."
    )
    assert "{" not in prompt  # every placeholder was filled
    assert "Dutch oven" in prompt
    assert "https://youtu.be/sourdough01?t=" in prompt
    assert draft["sources"][0]["youtube_video_id"] == "sourdough01"
    assert draft["provider"] == "offline-extractive"
    assert "two hundred and fifty degrees" in draft["text"]
    assert draft["usage"]["total_tokens"] > 0
    assert draft["message_id"] is None


async def test_a_draft_from_an_own_template_is_saved_into_a_conversation(
    session: AsyncSession,
) -> None:
    model = ScriptedModel("Here is your post [1].")
    async with talking_to(session, model) as (client, account):
        template = await client.post(
            "/api/v1/templates",
            json={
                "template_type": "email",
                "template_name": "Newsletter",
                "template_content": "Dear {reader}, about {topic}:\n{key_points}\n{sources}",
            },
            headers=account.headers,
        )
        conversation = await client.post("/api/v1/conversations", json={}, headers=account.headers)
        body = {
            "template_id": template.json()["id"],
            "topic": "coffee grind size",
            "variables": {"reader": "Sam"},
            "conversation_id": conversation.json()["id"],
        }
        response = await client.post(DRAFTS, json=body, headers=account.headers)
        missing = await client.post(DRAFTS, json={**body, "variables": {}}, headers=account.headers)
        messages = await client.get(
            f"/api/v1/conversations/{conversation.json()['id']}/messages", headers=account.headers
        )

    draft = response.json()
    assert draft["text"] == "Here is your post [1]."
    assert model.prompts[0][1].content.startswith("Dear Sam, about coffee grind size:")
    saved = messages.json()["items"][-1]
    assert saved["id"] == draft["message_id"]
    assert saved["metadata"]["kind"] == "draft"
    error = assert_error(missing, 422, "validation_error")
    assert error["details"][0]["field"] == "body.variables.reader"


async def test_a_draft_into_a_conversation_deleted_meanwhile_is_404_and_its_tokens_count(
    session: AsyncSession,
) -> None:
    """As an answer's: the model wrote it, so its tokens count against the day's."""
    model = DeletingModel(session)
    async with talking_to(session, model) as (client, account):
        conversation = await client.post("/api/v1/conversations", json={}, headers=account.headers)
        model.conversation_id = conversation.json()["id"]
        body = {
            "template_type": "linkedin",
            "topic": "coffee grind size",
            "conversation_id": model.conversation_id,
        }
        response = await client.post(DRAFTS, json=body, headers=account.headers)
        usage = await client.get("/api/v1/usage", params={"days": 1}, headers=account.headers)

    assert_error(response, 404, "not_found")
    assert model.conversation_id in response.json()["error"]["message"]
    assert usage.json()["total_tokens"] == 110  # not free for having been deleted


async def test_drafts_refuse_topics_no_video_covers_and_foreign_things(
    talks_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    async with talks_client as client:
        account, other = await sign_up(client), await sign_up(client)
        await ingest_talks(client, account)
        topic = {"template_type": "blog", "topic": "quantum chromodynamics"}
        while_preparing = await client.post(DRAFTS, json=topic, headers=account.headers)
        await embed_queued(session)
        nothing = await client.post(DRAFTS, json=topic, headers=account.headers)
        theirs = await client.post("/api/v1/conversations", json={}, headers=other.headers)
        foreign = await client.post(
            DRAFTS,
            json={
                "template_type": "blog",
                "topic": "coffee",
                "conversation_id": theirs.json()["id"],
            },
            headers=account.headers,
        )
        unknown_template = await client.post(
            DRAFTS,
            json={"template_id": str(uuid.uuid4()), "topic": "coffee"},
            headers=account.headers,
        )
        both = await client.post(
            DRAFTS,
            json={"template_type": "blog", "template_id": str(uuid.uuid4()), "topic": "coffee"},
            headers=account.headers,
        )

    assert_error(while_preparing, 422, "no_sources")
    assert while_preparing.json()["error"]["message"] == (
        "None of your videos covers “quantum chromodynamics” yet, but some of them are still "
        "being prepared: try again once they are ready."
    )
    assert_error(nothing, 422, "no_sources")
    assert (
        nothing.json()["error"]["message"] == "None of your videos covers “quantum chromodynamics”."
    )
    assert_error(foreign, 404, "not_found")
    assert_error(unknown_template, 404, "not_found")
    assert_error(both, 422, "validation_error")


async def test_a_failing_model_makes_the_draft_502(session: AsyncSession) -> None:
    model = ScriptedModel()
    model.fail_with = "rate limited upstream"
    async with talking_to(session, model) as (client, account):
        response = await client.post(
            DRAFTS, json={"template_type": "blog", "topic": "coffee"}, headers=account.headers
        )
    assert_error(response, 502, "bad_gateway")


async def test_usage_is_totalled_per_day_with_idle_days_as_zero(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await sign_up(client)
    user_id = uuid.UUID(account.id)
    usage = UsageRepository(session)
    for kind, prompt, completion in (("chat", 100, 20), ("draft", 50, 5)):
        await usage.record(
            user_id=user_id,
            kind=kind,
            provider="p",
            model="m",
            prompt_tokens=prompt,
            completion_tokens=completion,
        )
    old = await usage.record(
        user_id=user_id, kind="chat", provider="p", model="m", prompt_tokens=7, completion_tokens=3
    )
    await session.execute(
        update(UsageEvent)
        .where(UsageEvent.id == old.id)
        .values(created_at=datetime.now(UTC) - timedelta(days=2))
    )

    report = (await client.get("/api/v1/usage", params={"days": 7}, headers=account.headers)).json()

    assert report["days"] == 7
    assert len(report["daily"]) == 7
    today, two_days_ago = report["daily"][-1], report["daily"][-3]
    assert (today["calls"], today["prompt_tokens"], today["completion_tokens"]) == (2, 150, 25)
    assert today["total_tokens"] == 175
    assert two_days_ago["total_tokens"] == 10
    assert report["daily"][-2]["calls"] == 0
    assert report["total_tokens"] == 185
    days = [entry["day"] for entry in report["daily"]]
    assert days == sorted(days)
    other = await sign_up(client)
    assert (await client.get("/api/v1/usage", headers=other.headers)).json()["total_tokens"] == 0
    assert_error(
        await client.get("/api/v1/usage", params={"days": 0}, headers=account.headers),
        422,
        "validation_error",
    )


async def test_each_key_point_of_a_draft_links_to_the_moment_it_is_said(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Key points quoted from one chunk, said minutes apart, each have a source of their own
    opening the video where they are said."""
    srt = await upload_example_talk(client, alice)

    response = await client.post(
        DRAFTS,
        json={"template_type": "blog", "topic": "why the order history page was slow"},
        headers=alice.headers,
    )

    assert response.status_code == 200, response.text
    sources = {s["number"]: s for s in response.json()["sources"]}
    # The offline draft quotes its key points; its sources are what it cites, each said where
    # its link opens.
    points = [line[2:] for line in response.json()["text"].splitlines() if line.startswith("> ")]
    assert len(points) > 1
    assert len(sources) == len(points)
    for point in points:
        sentence, number = point.rsplit(" [", 1)
        source = sources[int(number.rstrip("]"))]
        start, end, _ = next(c for c in cues_of(srt) if " ".join(sentence.split()[:4]) in c[2])
        assert start <= source["moment_seconds"] <= end, (sentence, source)


async def test_a_draft_from_a_transcript_not_the_callers_is_404(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    """As asking and searching answer it, not as a topic no video covers."""
    theirs = await client.post(
        "/api/v1/transcripts",
        json={"video": "NotYours001", "transcript_text": "Words about rockets and fuel."},
        headers=bob.headers,
    )
    body = {"template_type": "blog", "topic": "rockets", "transcript_ids": [theirs.json()["id"]]}

    refused = await client.post(DRAFTS, json=body, headers=alice.headers)

    assert_error(refused, 404, "not_found")


async def test_a_draft_on_a_word_the_videos_say_has_them_as_sources(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    """A topic is seldom a question: "indexes" stands out from nothing by meaning in a talk
    about indexes, but the passages saying it are about it."""
    await upload_example_talk(client, alice)
    await embed_queued(session)

    draft = await client.post(
        DRAFTS, json={"template_type": "linkedin", "topic": "indexes"}, headers=alice.headers
    )

    assert draft.status_code == 200, draft.text
    assert draft.json()["sources"][0]["youtube_video_id"] == "exampleTalk"
    assert "index" in draft.json()["text"].lower()


async def test_a_citation_the_model_invents_is_taken_out_of_the_draft(
    session: AsyncSession,
) -> None:
    model = ScriptedModel("Here is your post [1], and a source nobody gave [9].")
    async with talking_to(session, model) as (client, account):
        response = await client.post(
            DRAFTS,
            json={"template_type": "twitter", "topic": "coffee grind size"},
            headers=account.headers,
        )

    assert response.status_code == 200, response.text
    assert response.json()["text"] == "Here is your post [1], and a source nobody gave."
    assert [source["number"] for source in response.json()["sources"]] == [1]


POST_LINK = re.compile(r"https://\S+")


@pytest.mark.parametrize("template_type", ["twitter", "linkedin", "blog", "email"])
async def test_an_offline_draft_has_the_shape_of_its_platform(
    client: httpx.AsyncClient, alice: Account, template_type: str
) -> None:
    """Without a model the key points are quoted, in the platform's shape: numbered posts of at
    most 280 characters (a link counting 23), a post under 3,000, headings, a subject line."""
    await upload_example_talk(client, alice)

    response = await client.post(
        DRAFTS,
        json={"template_type": template_type, "topic": "keyset pagination and OFFSET"},
        headers=alice.headers,
    )

    assert response.status_code == 200, response.text
    text = response.json()["text"]
    links = {source["url"] for source in response.json()["sources"]}
    if template_type == "twitter":
        posts = text.split("\n\n")
        assert len(posts) > 1
        for number, post in enumerate(posts, start=1):
            assert post.startswith(f"{number}/{len(posts)} ")
            assert len(POST_LINK.sub("x" * 23, post)) <= 280, post
        assert set(POST_LINK.findall(text)) <= links
        assert len(POST_LINK.findall(text)) == len(posts) - 1  # each quote opens its moment
    elif template_type == "linkedin":
        assert len(text) <= 3000
        assert text.startswith("Keyset pagination and OFFSET\n")
    elif template_type == "blog":
        assert text.startswith("# Keyset pagination and OFFSET\n")
        assert "\n## Sources\n" in text
    else:
        assert text.startswith("Subject: Keyset pagination and OFFSET\n")
    assert "OFFSET" in text or "offset" in text.lower()


async def test_a_draft_refused_within_chosen_videos_does_not_blame_the_others(
    talks_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    async with talks_client as client:
        account = await sign_up(client)
        ids = await ingest_talks(client, account)
        await embed_queued(session)
        coffee = next(id_ for video, id_ in ids.items() if video.startswith("coffee"))
        refused = await client.post(
            DRAFTS,
            json={
                "template_type": "blog",
                "topic": "quantum chromodynamics",
                "transcript_ids": [coffee],
            },
            headers=account.headers,
        )

    assert_error(refused, 422, "no_sources")
    message = refused.json()["error"]["message"]
    assert message == "None of the videos chosen covers “quantum chromodynamics”."


SPANISH_TALK = """1
00:00:00,000 --> 00:00:05,000
Hoy vamos a hablar del café y de cómo se tuesta en casa.

2
00:00:05,000 --> 00:00:10,000
El café recién tostado necesita reposar dos días antes de molerlo.

3
00:00:10,000 --> 00:00:15,000
Durante el reposo el grano suelta dióxido de carbono.
"""


async def test_an_offline_draft_of_spanish_videos_speaks_spanish(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await upload_captions(client, alice, "cafeTostado", SPANISH_TALK)

    response = await client.post(
        DRAFTS,
        json={"template_type": "email", "topic": "reposar el café tostado"},
        headers=alice.headers,
    )

    assert response.status_code == 200, response.text
    text = response.json()["text"]
    assert text.startswith("Asunto: Reposar el café tostado\n\nHola,\n")
    assert "\nFuentes:\n" in text
