"""Limits on costly work through the API: 429 naming the limit with `Retry-After`, windows that
start again, tokens per day from the ledger, one count per user across login sessions and app
instances, `GET /usage`, and no limit query on the hot reads."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import get_settings
from app.db.repositories import UsageRepository
from app.services.llm import OFFLINE_PROVIDER
from app.services.usage_limits import token_budget
from tests.api.conftest import (
    PASSWORD,
    Account,
    ClientFactory,
    assert_error,
    build_app,
    client_for,
    sign_up,
)
from tests.api.limited_requests import (
    ask,
    assert_refused_by,
    draft,
    ingest,
    limits_of,
    new_conversation,
    store_transcript,
    upload,
)
from tests.factories import let_usage_counters_age
from tests.fakes import ScriptedModel
from tests.statements import engine_of, statements_sent


async def test_asks_past_the_limit_get_429_until_the_minute_is_over(
    make_client: ClientFactory, session: AsyncSession
) -> None:
    async with make_client(limit_asks_per_minute=2) as client:
        account = await sign_up(client)
        conversation = await new_conversation(client, account)
        allowed = [(await ask(client, account, conversation)).status_code for _ in range(2)]
        refused = await ask(client, account, conversation)
        messages = await client.get(
            f"/api/v1/conversations/{conversation}/messages", headers=account.headers
        )

        await let_usage_counters_age(session, timedelta(minutes=1))
        ended = (await limits_of(client, account))["asks_per_minute"]
        after_the_minute = await ask(client, account, conversation)

    assert allowed == [201, 201]
    assert_refused_by(refused, "asks per minute: 2", 60)
    assert messages.json()["total"] == 4  # the refused question was not stored
    assert ended == {"limit": 2, "used": 0, "remaining": 2, "resets_at": None}
    assert after_the_minute.status_code == 201, after_the_minute.text


async def test_drafts_past_the_limit_get_429(make_client: ClientFactory) -> None:
    async with make_client(limit_drafts_per_minute=1) as client:
        account = await sign_up(client)
        assert (await store_transcript(client, account)).status_code == 201
        first = await draft(client, account)
        second = await draft(client, account)
        usage = await limits_of(client, account)

    assert first.status_code == 200, first.text
    assert_refused_by(second, "drafts per minute: 1", 60)
    assert usage["drafts_per_minute"]["used"] == 1
    assert usage["drafts_per_minute"]["remaining"] == 0


async def test_a_request_counts_once_admitted_even_when_its_work_then_fails(
    client: httpx.AsyncClient, alice: Account
) -> None:
    no_sources = await draft(client, alice)  # alice has no videos
    missing = await client.post(
        f"/api/v1/conversations/{uuid.uuid4()}/messages",
        json={"content": "Why?"},
        headers=alice.headers,
    )
    usage = await limits_of(client, alice)

    assert_error(no_sources, 422, "no_sources")
    assert_error(missing, 404, "not_found")
    assert usage["drafts_per_minute"]["used"] == 1  # admitted, then the draft failed
    assert usage["asks_per_minute"]["used"] == 0  # refused by its own checks first


async def test_a_draft_that_fails_gives_back_the_tokens_it_set_aside(
    make_client: ClientFactory,
) -> None:
    """Room for one answer's tokens a day: a draft no video covers (422) must not keep them set
    aside, or the ask after it would be refused until they expired."""
    async with make_client(limit_tokens_per_day=token_budget(get_settings())) as client:
        account = await sign_up(client)
        no_sources = await draft(client, account)  # no videos yet
        conversation = await new_conversation(client, account)
        asked = await ask(client, account, conversation)

    assert_error(no_sources, 422, "no_sources")
    assert asked.status_code == 201, asked.text


async def test_links_uploads_and_stored_transcripts_share_the_ingests_per_hour(
    make_client: ClientFactory, session: AsyncSession
) -> None:
    async with make_client(limit_ingests_per_hour=2) as client:
        account = await sign_up(client)
        stored = await store_transcript(client, account)
        uploaded = await upload(client, account, "uploaded001")
        refused = [
            await ingest(client, account, "dQw4w9WgXcQ"),
            await upload(client, account, "uploaded002"),
            await store_transcript(client, account, "oventalk002"),
        ]

        await let_usage_counters_age(session, timedelta(hours=1))
        after_the_hour = await ingest(client, account, "dQw4w9WgXcQ")

    assert (stored.status_code, uploaded.status_code) == (201, 201)
    for response in refused:
        assert_refused_by(response, "ingests per hour: 2", 3600)
    assert after_the_hour.status_code == 202, after_the_hour.text


async def test_the_days_tokens_from_the_ledger_stop_asks_and_drafts_until_midnight_utc(
    session: AsyncSession,
) -> None:
    app = build_app(session, limit_tokens_per_day=1000)
    app.state.language_model = ScriptedModel()  # a model that spends tokens
    async with client_for(app) as client:
        account = await sign_up(client)
        await UsageRepository(session).record(
            user_id=uuid.UUID(account.id),
            kind="chat",
            provider="openai-compatible",
            model="gpt-4o-mini",
            prompt_tokens=900,
            completion_tokens=100,
        )
        conversation = await new_conversation(client, account)
        refused_ask = await ask(client, account, conversation)
        refused_draft = await draft(client, account)
        stored = await store_transcript(client, account)  # ingests spend no tokens
        usage = await limits_of(client, account)

    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    wait = assert_refused_by(refused_ask, "tokens per day: 1000", 86_400)
    assert abs(wait - (midnight - now).total_seconds()) < 300
    assert_refused_by(refused_draft, "tokens per day: 1000", 86_400)
    assert stored.status_code == 201
    assert usage["tokens_per_day"]["used"] == 1000
    assert usage["tokens_per_day"]["remaining"] == 0
    assert usage["asks_per_minute"]["used"] == 0  # refused asks are not counted


async def test_the_offline_answerer_is_not_held_back_by_the_days_tokens(
    make_client: ClientFactory, session: AsyncSession
) -> None:
    """Its tokens are an estimate of what a model would have read, and cost nothing: they are
    recorded, and count against no limit."""
    async with make_client(limit_tokens_per_day=1000) as client:
        account = await sign_up(client)
        await UsageRepository(session).record(
            user_id=uuid.UUID(account.id),
            kind="chat",
            provider=OFFLINE_PROVIDER,
            model="extractive-v2",
            prompt_tokens=900,
            completion_tokens=100,
        )
        answered = await ask(client, account, await new_conversation(client, account))
        drafted = await draft(client, account)
        usage = await limits_of(client, account)

    assert answered.status_code == 201, answered.text
    assert_error(drafted, 422, "no_sources")  # past the limits: the account has no videos
    assert usage["tokens_per_day"]["used"] == 0


async def test_usage_shows_each_limit_with_what_is_used_and_left(
    make_client: ClientFactory,
) -> None:
    async with make_client(limit_asks_per_minute=5, limit_drafts_per_minute=0) as client:
        account = await sign_up(client)
        before = await limits_of(client, account)
        await ask(client, account, await new_conversation(client, account))
        after = await limits_of(client, account)

    assert before["asks_per_minute"] == {"limit": 5, "used": 0, "remaining": 5, "resets_at": None}
    assert after["asks_per_minute"]["used"] == 1
    assert after["asks_per_minute"]["remaining"] == 4
    resets_at = datetime.fromisoformat(after["asks_per_minute"]["resets_at"])
    assert timedelta(0) < resets_at - datetime.now(UTC) <= timedelta(minutes=1)
    assert after["drafts_per_minute"]["limit"] == 0
    assert after["drafts_per_minute"]["remaining"] is None  # 0: no limit
    assert set(after) == {
        "asks_per_minute",
        "drafts_per_minute",
        "ingests_per_hour",
        "tokens_per_day",
        "searches_per_minute",
        "webhook_tests_per_hour",
        "stored_words",
    }


async def login_again(client: httpx.AsyncClient, account: Account) -> Account:
    login = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return Account(email=account.email, headers=headers, id=account.id)


async def test_two_login_sessions_of_one_user_share_the_limit(
    make_client: ClientFactory,
) -> None:
    async with make_client(limit_asks_per_minute=2) as client:
        laptop = await sign_up(client)
        phone = await login_again(client, laptop)
        conversation = await new_conversation(client, laptop)
        statuses = [
            (await ask(client, laptop, conversation)).status_code,
            (await ask(client, phone, conversation)).status_code,
        ]
        refused = await ask(client, laptop, conversation)
        seen_from_the_phone = await limits_of(client, phone)

    assert statuses == [201, 201]
    assert_refused_by(refused, "asks per minute: 2", 60)
    assert seen_from_the_phone["asks_per_minute"]["used"] == 2


async def test_another_app_instance_counts_against_the_same_limit(session: AsyncSession) -> None:
    """Two processes, or one restarted: the counts live in the database, not in either."""
    first, second = (build_app(session, limit_asks_per_minute=1) for _ in range(2))
    async with client_for(first) as one, client_for(second) as other:
        account = await sign_up(one)
        conversation = await new_conversation(one, account)
        assert (await ask(one, account, conversation)).status_code == 201
        assert_refused_by(await ask(other, account, conversation), "asks per minute: 1", 60)


async def test_the_limited_operations_document_their_429(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    limited = [
        ("/api/v1/conversations/{conversation_id}/messages", "post"),
        ("/api/v1/drafts", "post"),
        ("/api/v1/transcripts", "post"),
        ("/api/v1/transcripts/ingest", "post"),
        ("/api/v1/transcripts/upload", "post"),
        ("/api/v1/search", "get"),
        ("/api/v1/templates/{template_id}/render", "post"),
        ("/api/v1/webhooks/{endpoint_id}/test", "post"),
        ("/api/v1/collections", "post"),
    ]
    for path, method in limited:
        assert "429" in paths[path][method]["responses"], (method, path)
    assert "429" not in paths["/api/v1/conversations"]["get"]["responses"]


async def test_the_hot_reads_run_no_limit_query(
    client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> None:
    conversation = await new_conversation(client, alice)
    with statements_sent(engine_of(session)) as statements:
        listed = await client.get("/api/v1/conversations", headers=alice.headers)
        messages = await client.get(
            f"/api/v1/conversations/{conversation}/messages", headers=alice.headers
        )

    assert (listed.status_code, messages.status_code) == (200, 200)
    assert statements
    assert not [s for s in statements if "usage_counters" in s or "user_limits" in s]


async def test_a_caption_file_that_does_not_parse_does_not_count(
    make_client: ClientFactory,
) -> None:
    """Parsed in the worker process once the upload was counted: a refused file is uncounted,
    so fixing a caption file by trial and error does not spend the hour's ingests."""
    broken = "1\n00:00:05,000 --> 00:00:01,000\nEnds before it starts.\n"
    async with make_client(limit_ingests_per_hour=1) as client:
        account = await sign_up(client)
        refused = [
            await client.post(
                "/api/v1/transcripts/upload",
                files={"file": ("talk.srt", broken.encode(), "application/x-subrip")},
                data={"video": "broken00001"},
                headers=account.headers,
            )
            for _ in range(2)
        ]
        usage = (await client.get("/api/v1/usage", headers=account.headers)).json()
        uploaded = await upload(client, account, "uploaded001")

    for response in refused:
        assert_error(response, 422, "validation_error")
    assert usage["limits"]["ingests_per_hour"]["used"] == 0
    assert uploaded.status_code == 201, uploaded.text
