"""The limits the security review asked for: searches per minute, webhook test pings per hour,
and a quota on the words a library holds."""

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import TokenReservation
from tests.api.conftest import Account, ClientFactory, assert_error
from tests.api.limited_requests import ask, new_conversation
from tests.api.test_transcripts import ingest, words
from tests.api.test_webhooks import LOCAL, WEBHOOKS, register


async def test_searches_are_limited_per_minute(make_client: ClientFactory, alice: Account) -> None:
    async with make_client(limit_searches_per_minute=2) as client:
        answers = [
            await client.get("/api/v1/search", params={"q": "oven"}, headers=alice.headers)
            for _ in range(3)
        ]

    assert [answer.status_code for answer in answers[:2]] == [200, 200]
    error = assert_error(answers[2], 429, "rate_limited")
    assert error["details"][0]["type"] == "searches_per_minute"
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60


async def test_webhook_test_pings_are_limited_per_hour(
    make_client: ClientFactory, alice: Account
) -> None:
    async with make_client(limit_webhook_tests_per_hour=1, **LOCAL) as client:
        endpoint = await register(client, alice)
        first = await client.post(f"{WEBHOOKS}/{endpoint['id']}/test", headers=alice.headers)
        second = await client.post(f"{WEBHOOKS}/{endpoint['id']}/test", headers=alice.headers)

    assert first.status_code == 202, first.text
    error = assert_error(second, 429, "rate_limited")
    assert error["details"][0]["type"] == "webhook_tests_per_hour"
    assert 60 < int(second.headers["Retry-After"]) <= 3600


async def usage_of_words(client: httpx.AsyncClient, account: Account) -> dict[str, object]:
    usage = await client.get("/api/v1/usage", headers=account.headers)
    words_status: dict[str, object] = usage.json()["limits"]["stored_words"]
    return words_status


async def test_a_library_holds_at_most_its_quota_of_words(
    make_client: ClientFactory, alice: Account
) -> None:
    async with make_client(limit_stored_words=100) as client:
        first = await ingest(client, alice, "aaaaaaaaaa1", transcript_text=words(60))
        over = await ingest(client, alice, "aaaaaaaaaa2", transcript_text=words(41))
        status = await usage_of_words(client, alice)
        fits = await ingest(client, alice, "aaaaaaaaaa3", transcript_text=words(40))
        listed = await client.get("/api/v1/transcripts", headers=alice.headers)

    assert first.status_code == 201, first.text
    error = assert_error(over, 403, "quota_exceeded")
    assert "41 words" in error["message"]
    assert "60 of the 100" in error["message"]
    assert status == {"limit": 100, "used": 60, "remaining": 40, "resets_at": None}
    assert fits.status_code == 201
    assert listed.json()["total"] == 2  # nothing of the refused one was kept


async def test_an_answer_takes_back_the_tokens_its_question_reserved(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    conversation = await new_conversation(client, alice)
    await ingest(client, alice, transcript_text="The oven must be hot: 250 degrees for bread.")
    held = select(func.count()).where(TokenReservation.user_id == alice.id)

    answered = await ask(client, alice, conversation, "How hot must the oven be?")

    assert answered.status_code == 201, answered.text
    assert (await session.execute(held)).scalar_one() == 0
