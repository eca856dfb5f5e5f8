import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories import UsageRepository
from app.services.wording import WORDS
from testkit.labelled_set import CHUNK_TOKENS
from tests.api.conftest import Account, ClientFactory, assert_error, sign_up
from tests.api.talks import cues_of, embed_queued, ingest_talks, talking_to, upload_example_talk
from tests.fakes import ScriptedModel

OVEN_QUESTION = "How hot should the oven be for the sourdough?"


@pytest.fixture
async def talks_client(make_client: ClientFactory) -> httpx.AsyncClient:
    return make_client(chunk_tokens=CHUNK_TOKENS, chunk_overlap=0.2)


async def new_conversation(client: httpx.AsyncClient, account: Account) -> str:
    response = await client.post("/api/v1/conversations", json={}, headers=account.headers)
    return str(response.json()["id"])


async def ask(
    client: httpx.AsyncClient, account: Account, conversation_id: str, content: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"content": content, **body},
        headers=account.headers,
    )


def parse_sse(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_an_offline_answer_cites_the_moment_in_the_video(
    talks_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    async with talks_client as client:
        account = await sign_up(client)
        await ingest_talks(client, account)
        conversation_id = await new_conversation(client, account)

        response = await ask(client, account, conversation_id, OVEN_QUESTION)
        conversation = await client.get(
            f"/api/v1/conversations/{conversation_id}", headers=account.headers
        )

    assert response.status_code == 201, response.text
    answer = response.json()["assistant_message"]
    metadata = answer["metadata"]
    assert metadata["grounded"] is True
    assert metadata["offline"] is True
    assert metadata["provider"] == "offline-extractive"
    assert "two hundred and fifty degrees" in answer["content"]
    cited = {c["number"]: c for c in metadata["citations"]}
    number = int(answer["content"].split("degrees Celsius")[1].split("[")[1].split("]")[0])
    citation = cited[number]
    assert citation["youtube_video_id"] == "sourdough01"
    assert citation["start_seconds"] <= 5 * 6.0 <= citation["end_seconds"]
    assert citation["moment_seconds"] == 5 * 6.0  # the oven sentence itself
    assert citation["url"] == "https://youtu.be/sourdough01?t=30"
    assert metadata["usage"]["prompt_tokens"] > 0
    assert metadata["usage"]["completion_tokens"] > 0
    assert conversation.json()["title"] == OVEN_QUESTION
    daily = await UsageRepository(session).daily_totals(uuid.UUID(account.id), 1)
    assert daily[0].calls == 1
    assert daily[0].total_tokens == metadata["usage"]["total_tokens"]


async def test_a_question_the_videos_do_not_cover_gets_an_honest_answer(
    talks_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    async with talks_client as client:
        account = await sign_up(client)
        await ingest_talks(client, account)
        await embed_queued(session)  # ready: nothing is still being prepared
        conversation_id = await new_conversation(client, account)

        response = await ask(client, account, conversation_id, "What is the capital of Mongolia?")
        usage = await client.get("/api/v1/usage", params={"days": 1}, headers=account.headers)

    answer = response.json()["assistant_message"]
    assert answer["content"] == WORDS["en"].not_in_videos
    assert answer["metadata"]["grounded"] is False
    assert answer["metadata"]["citations"] == []
    assert usage.json()["total_tokens"] == 0  # no model was asked


async def test_an_answer_is_worded_in_the_language_it_was_asked_in(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    """The quotes stay as they were said; the few words around them, and the answer to a
    question the videos do not cover, are in the asker's language."""
    await upload_example_talk(client, alice)
    await embed_queued(session)  # found by meaning, as under `make run`
    conversation_id = await new_conversation(client, alice)

    spanish = await ask(
        client, alice, conversation_id, "¿Cuánto tardaba en cargar la página del historial?"
    )
    german = await ask(client, alice, conversation_id, "Was ist die Hauptstadt der Mongolei?")
    english = await ask(client, alice, conversation_id, "How long did the page take to load?")

    answered = spanish.json()["assistant_message"]
    assert answered["metadata"]["grounded"] is True, answered["content"]
    assert answered["content"].startswith(WORDS["es"].quoted + "\n")
    assert "eleven seconds" in answered["content"]
    declined = german.json()["assistant_message"]
    assert declined["metadata"]["grounded"] is False
    assert declined["content"] == WORDS["de"].not_in_videos
    assert english.json()["assistant_message"]["content"].startswith(WORDS["en"].quoted + "\n")


async def test_a_question_asked_before_the_video_is_ready_says_to_ask_again(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    """Asked right after an upload, a question in other words than the talk's finds nothing
    while the talk's vectors are being made: the answer says so, and asked again once they
    are in, it is answered."""
    await upload_example_talk(client, alice)  # its embed job is queued, not yet run
    conversation_id = await new_conversation(client, alice)
    question = "¿Cuánto tardaba en cargar la página del historial?"

    early = (await ask(client, alice, conversation_id, question)).json()["assistant_message"]
    await embed_queued(session)
    ready = (await ask(client, alice, conversation_id, question)).json()["assistant_message"]
    other = await ask(client, alice, conversation_id, "Was ist die Hauptstadt der Mongolei?")

    assert early["content"] == WORDS["es"].preparing
    assert early["metadata"]["grounded"] is False
    assert early["metadata"]["preparing"] is True
    assert ready["metadata"]["grounded"] is True
    assert "eleven seconds" in ready["content"]
    declined = other.json()["assistant_message"]
    assert declined["content"] == WORDS["de"].not_in_videos
    assert "preparing" not in declined["metadata"]


async def test_a_question_asked_of_an_empty_library_says_how_to_add_a_video(
    client: httpx.AsyncClient, alice: Account
) -> None:
    conversation_id = await new_conversation(client, alice)

    response = await ask(client, alice, conversation_id, "What was the fix?")
    polish = await ask(client, alice, conversation_id, "Jaka była poprawka?")

    assert response.status_code == 201, response.text
    answer = response.json()["assistant_message"]
    assert answer["content"] == WORDS["en"].no_videos
    assert answer["metadata"]["grounded"] is False
    assert "preparing" not in answer["metadata"]
    assert polish.json()["assistant_message"]["content"] == WORDS["pl"].no_videos


async def test_answers_can_be_restricted_to_some_transcripts(
    talks_client: httpx.AsyncClient,
) -> None:
    async with talks_client as client:
        account, other = await sign_up(client), await sign_up(client)
        ids = await ingest_talks(client, account)
        conversation_id = await new_conversation(client, account)

        coffee_only = await ask(
            client,
            account,
            conversation_id,
            "how many minutes",
            transcript_ids=[ids["coffeeBrew1"]],
        )
        foreign = await ask(
            client,
            other,
            await new_conversation(client, other),
            "minutes",
            transcript_ids=[ids["coffeeBrew1"]],
        )

    citations = coffee_only.json()["assistant_message"]["metadata"]["citations"]
    assert citations
    assert {c["youtube_video_id"] for c in citations} == {"coffeeBrew1"}
    assert_error(foreign, 404, "not_found")


async def test_the_prompt_holds_the_excerpts_and_the_last_messages(
    session: AsyncSession,
) -> None:
    model = ScriptedModel()
    async with talking_to(session, model, chat_history_messages=2) as (client, account):
        conversation_id = await new_conversation(client, account)
        await ask(client, account, conversation_id, "what is autolyse")
        await ask(client, account, conversation_id, OVEN_QUESTION)

    system, *history, question = model.prompts[-1]
    assert system.role == "system"
    assert "[1]" in system.content
    assert "Sourdough" in system.content
    assert [m.role for m in history] == ["user", "assistant"]
    assert history[0].content == "what is autolyse"
    assert question.role == "user"
    assert question.content == OVEN_QUESTION


async def test_a_failing_model_is_502_and_the_question_is_kept(session: AsyncSession) -> None:
    model = ScriptedModel()
    model.fail_with = "upstream timed out"
    async with talking_to(session, model) as (client, account):
        conversation_id = await new_conversation(client, account)

        response = await ask(client, account, conversation_id, OVEN_QUESTION)
        messages = await client.get(
            f"/api/v1/conversations/{conversation_id}/messages", headers=account.headers
        )

    error = assert_error(response, 502, "bad_gateway")
    assert error["message"] == "The language model failed."  # the reason is logged, not shown
    assert [m["content"] for m in messages.json()["items"]] == [OVEN_QUESTION]


async def test_the_streamed_answer_equals_the_stored_one(talks_client: httpx.AsyncClient) -> None:
    async with talks_client as client:
        account = await sign_up(client)
        await ingest_talks(client, account)
        conversation_id = await new_conversation(client, account)

        response = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"content": OVEN_QUESTION},
            headers={**account.headers, "Accept": "text/event-stream"},
        )
        stored = await client.get(
            f"/api/v1/conversations/{conversation_id}/messages", headers=account.headers
        )

    assert response.status_code == 201  # as documented: the question is stored
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "user_message"
    assert names[-1] == "done"
    assert set(names[1:-1]) == {"delta"}
    assert len(names) > 3
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    done = events[-1][1]
    assert streamed == done["content"]
    assert done["metadata"]["partial"] is False
    assert done["metadata"]["citations"]
    assert stored.json()["items"][-1]["content"] == streamed


async def test_a_streamed_answer_to_what_the_videos_do_not_cover_is_in_the_askers_language(
    talks_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    async with talks_client as client:
        account = await sign_up(client)
        await ingest_talks(client, account)
        await embed_queued(session)
        conversation_id = await new_conversation(client, account)

        response = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"content": "Quelle est la capitale de la Mongolie ?"},
            headers={**account.headers, "Accept": "text/event-stream"},
        )

    events = parse_sse(response.text)
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    assert streamed == WORDS["fr"].not_in_videos
    assert events[-1][1]["content"] == streamed
    assert events[-1][1]["metadata"]["grounded"] is False


async def test_a_model_failing_mid_stream_sends_an_error_and_keeps_the_part(
    session: AsyncSession,
) -> None:
    model = ScriptedModel("one two three four")
    model.fail_after_pieces = 2
    async with talking_to(session, model) as (client, account):
        conversation_id = await new_conversation(client, account)
        response = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"content": OVEN_QUESTION},
            headers={**account.headers, "Accept": "text/event-stream"},
        )
        stored = await client.get(
            f"/api/v1/conversations/{conversation_id}/messages", headers=account.headers
        )

    events = parse_sse(response.text)
    assert events[-1][0] == "error"
    assert events[-1][1]["error"]["code"] == "bad_gateway"
    last = stored.json()["items"][-1]
    assert last["content"] == "one two "
    assert last["metadata"]["partial"] is True


async def test_the_first_question_titles_only_an_untitled_conversation(
    client: httpx.AsyncClient, alice: Account
) -> None:
    titled = await client.post(
        "/api/v1/conversations", json={"title": "Mine"}, headers=alice.headers
    )
    untitled = await new_conversation(client, alice)
    long_question = "word " * 40

    await ask(client, alice, titled.json()["id"], "first question")
    await ask(client, alice, untitled, long_question)

    first = await client.get(f"/api/v1/conversations/{titled.json()['id']}", headers=alice.headers)
    second = await client.get(f"/api/v1/conversations/{untitled}", headers=alice.headers)
    assert first.json()["title"] == "Mine"
    assert second.json()["title"].endswith("…")
    assert len(second.json()["title"]) <= 61


@pytest.mark.slow
async def test_most_labelled_questions_get_a_grounded_answer_citing_their_video(
    make_client: ClientFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from testkit.labelled_set import QUESTIONS

    # One account asks every labelled question at once: past the default limits.
    unlimited = {"limit_asks_per_minute": 0, "limit_tokens_per_day": 0}
    async with make_client(chunk_tokens=CHUNK_TOKENS, chunk_overlap=0.2, **unlimited) as client:
        account = await sign_up(client)
        await ingest_talks(client, account)
        answered = []
        for question in QUESTIONS:
            conversation_id = await new_conversation(client, account)
            reply = (await ask(client, account, conversation_id, question.text)).json()
            metadata = reply["assistant_message"]["metadata"]
            cited_videos = {c["youtube_video_id"] for c in metadata["citations"]}
            answered.append(metadata["grounded"] and question.video_id in cited_videos)

    rate = sum(answered) / len(answered)
    with capsys.disabled():
        print(
            f"\nchat answer rate on the labelled set = {rate:.2f} ({sum(answered)}/{len(answered)})"
        )
    assert rate >= 0.9


async def test_a_model_that_says_the_videos_do_not_answer_cites_nothing(
    session: AsyncSession,
) -> None:
    model = ScriptedModel("The excerpts do not say how hot the oven should be.")
    async with talking_to(session, model) as (client, account):
        conversation_id = await new_conversation(client, account)
        response = await ask(client, account, conversation_id, OVEN_QUESTION)

    metadata = response.json()["assistant_message"]["metadata"]
    assert metadata["grounded"] is False
    assert metadata["citations"] == []
    assert metadata["usage"]["completion_tokens"] > 0  # the model ran, and is accounted for


async def test_an_answer_keeps_only_the_citations_it_refers_to(session: AsyncSession) -> None:
    model = ScriptedModel("It bakes at 250 degrees [1].")
    async with talking_to(session, model) as (client, account):
        conversation_id = await new_conversation(client, account)
        response = await ask(client, account, conversation_id, OVEN_QUESTION)

    metadata = response.json()["assistant_message"]["metadata"]
    assert metadata["grounded"] is True
    assert [c["number"] for c in metadata["citations"]] == [1]


async def test_each_quoted_sentence_links_to_the_moment_it_is_said(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """The example talk is one chunk of several passages: sentences quoted from it are said
    minutes apart, and each [n] must open the video where its own sentence is said, not where
    the chunk's best one is."""
    srt = await upload_example_talk(client, alice)
    conversation_id = await new_conversation(client, alice)

    response = await ask(client, alice, conversation_id, "Why was the order history page so slow?")

    answer = response.json()["assistant_message"]
    cited = {c["number"]: c for c in answer["metadata"]["citations"]}
    quoted = [line[2:] for line in answer["content"].splitlines() if line.startswith("- ")]
    assert len(quoted) > 1
    numbers = []
    for line in quoted:
        sentence, number = line.rsplit(" [", 1)
        numbers.append(int(number.rstrip("]")))
        start, end, _ = next(c for c in cues_of(srt) if " ".join(sentence.split()[:4]) in c[2])
        assert start <= cited[numbers[-1]]["moment_seconds"] <= end, (sentence, cited[numbers[-1]])
        citation = cited[numbers[-1]]
        assert citation["url"].endswith(f"t={int(citation['moment_seconds'])}")
        # Its passage is the one the sentence is in, not the chunk's best one.
        assert citation["start_seconds"] <= citation["moment_seconds"] <= citation["end_seconds"]
    assert numbers == list(range(1, len(quoted) + 1))  # numbered as the answer reads


class DeletingModel(ScriptedModel):
    """Answers, having seen the conversation deleted while it wrote (as another request would
    delete it)."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.session = session
        self.conversation_id = ""

    async def complete(self, messages: Any, passages: Any) -> Any:
        completion = await super().complete(messages, passages)
        await self.session.execute(
            text("DELETE FROM conversations WHERE id = :id"),
            {"id": uuid.UUID(self.conversation_id)},
        )
        return completion


async def test_an_answer_to_a_conversation_deleted_meanwhile_is_404_and_its_tokens_count(
    session: AsyncSession,
) -> None:
    model = DeletingModel(session)
    async with talking_to(session, model) as (client, account):
        conversation_id = model.conversation_id = await new_conversation(client, account)
        asked = await ask(client, account, conversation_id, OVEN_QUESTION)
        usage = await client.get("/api/v1/usage", params={"days": 1}, headers=account.headers)

    assert_error(asked, 404, "not_found")
    assert conversation_id in asked.json()["error"]["message"]
    assert usage.json()["total_tokens"] == 110  # not free for having been deleted


async def test_quotes_in_a_question_are_punctuation_not_a_filter(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """In a search, "a phrase" asks for exactly those words; in a question, quotes mark what
    someone said, and must not require every word of the question in one passage."""
    await upload_example_talk(client, alice)
    conversation_id = await new_conversation(client, alice)
    plain, quoted = [
        await ask(client, alice, conversation_id, question)
        for question in (
            "Why did the order history page feel so sluggish to people?",
            'Why did the "order history" page feel so sluggish to people?',
        )
    ]

    for answered in (plain, quoted):
        assert answered.status_code == 201, answered.text
        assert answered.json()["assistant_message"]["metadata"]["grounded"] is True


async def test_a_model_answer_holding_a_nul_is_stored_without_it(session: AsyncSession) -> None:
    """PostgreSQL's text refuses NUL: an answer holding one must still be stored."""
    async with talking_to(session, ScriptedModel("Preheat \x00to 250 degrees [1].")) as (
        client,
        account,
    ):
        conversation_id = await new_conversation(client, account)
        asked = await ask(client, account, conversation_id, OVEN_QUESTION)

    assert asked.status_code == 201, asked.text
    assert asked.json()["assistant_message"]["content"] == "Preheat to 250 degrees [1]."
