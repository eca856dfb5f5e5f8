"""A follow-up ("and why was that?") says too little to be found alone: it is read with the
question answered before it, unless it names what no video says, which makes it a new question."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.chat import FOLLOW_UP_CONTEXT_CHARS
from tests.api.conftest import Account
from tests.api.talks import embed_queued, upload_example_talk
from tests.api.test_chat import ask, new_conversation

FIRST = "What did the planner do with the index on the customer column?"


async def a_conversation_about_the_example_talk(
    client: httpx.AsyncClient, account: Account, session: AsyncSession
) -> tuple[str, str]:
    """A conversation whose first question was answered, and that answer."""
    await upload_example_talk(client, account)
    await embed_queued(session)
    conversation = await new_conversation(client, account)
    first = (await ask(client, account, conversation, FIRST)).json()["assistant_message"]
    assert first["metadata"]["grounded"], first["content"]
    return conversation, first["content"]


async def answer(
    client: httpx.AsyncClient, account: Account, conversation: str, question: str
) -> dict[str, Any]:
    response = await ask(client, account, conversation, question)
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()["assistant_message"]
    return message


def quotes(message: dict[str, Any]) -> list[str]:
    return [line[2:] for line in message["content"].splitlines() if line.startswith("- ")]


async def test_a_follow_up_is_answered_from_the_question_before_it(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    conversation, first = await a_conversation_about_the_example_talk(client, alice, session)

    follow_up = await answer(client, alice, conversation, "And why was that?")

    assert follow_up["metadata"]["grounded"], follow_up["content"]
    assert follow_up["metadata"]["asked"] == f"{FIRST} And why was that?"
    quoted = [line.rsplit(" [", 1)[0] for line in quotes(follow_up)]
    assert quoted, follow_up["content"]
    assert not [line for line in quoted if line in first]  # what was said is not said again


async def test_a_follow_up_asked_alone_is_declined(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    await a_conversation_about_the_example_talk(client, alice, session)
    alone = await new_conversation(client, alice)

    declined = await answer(client, alice, alone, "And why was that?")

    assert not declined["metadata"]["grounded"]
    assert "asked" not in declined["metadata"]


async def test_a_question_naming_what_no_video_says_is_a_new_question(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    conversation, _ = await a_conversation_about_the_example_talk(client, alice, session)

    declined = await answer(client, alice, conversation, "What is the capital of Australia?")

    assert not declined["metadata"]["grounded"], declined["content"]


@pytest.mark.slow
async def test_a_chain_of_follow_ups_searches_a_bounded_text(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    """Each follow-up is read with the beginning of the one before it, not all of it: a long
    chain does not make every answer search (and embed) a longer text than the last."""
    conversation, _ = await a_conversation_about_the_example_talk(client, alice, session)
    follow_up = ("And why was that? " * 20).strip()

    searched = []
    for _ in range(4):
        message = await answer(client, alice, conversation, follow_up)
        assert message["metadata"]["grounded"], message["content"]
        searched.append(message["metadata"]["asked"])

    assert searched[0] == f"{FIRST} {follow_up}"
    assert all(text.startswith(FIRST) and text.endswith(follow_up) for text in searched)
    assert max(map(len, searched)) <= FOLLOW_UP_CONTEXT_CHARS + 1 + len(follow_up)
