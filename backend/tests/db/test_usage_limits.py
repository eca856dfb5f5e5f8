"""Usage counters and limit overrides: counting up to a limit (also across connections),
windows, the day's tokens, overrides."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import get_settings
from app.db.errors import InvalidValueError
from app.db.models import LimitedAction, UsageEvent, User
from app.db.repositories import (
    UsageCounterRepository,
    UsageRepository,
    UserLimitRepository,
)
from app.db.session import Database
from app.services.usage_limits import LimitReachedError, admit
from tests.factories import let_usage_counters_age, make_user

ASK, DRAFT = LimitedAction.ASK, LimitedAction.DRAFT
MINUTE = timedelta(minutes=1)
# Long enough that no window ends while a test runs, however slow the machine.
LONG = timedelta(days=3650)


async def test_counting_admits_up_to_the_limit_and_no_further(session: AsyncSession) -> None:
    user = await make_user(session)
    counters = UsageCounterRepository(session)

    outcomes = [await counters.count_many(user.id, ASK, LONG, 3, 1) for _ in range(5)]

    assert [o.admitted for o in outcomes] == [True, True, True, False, False]
    assert [o.counter.used for o in outcomes] == [1, 2, 3, 3, 3]  # a refusal is not counted
    assert len({o.counter.window_start for o in outcomes}) == 1
    assert all(o.counter.now >= o.counter.window_start for o in outcomes)


async def test_no_limit_still_counts_and_actions_count_apart(session: AsyncSession) -> None:
    user = await make_user(session)
    counters = UsageCounterRepository(session)

    for _ in range(4):
        assert (await counters.count_many(user.id, ASK, LONG, None, 1)).admitted
    draft = await counters.count_many(user.id, DRAFT, LONG, 1, 1)

    assert draft.admitted
    assert draft.counter.used == 1
    _, stored = await counters.for_user(user.id)
    assert {action: counter.used for action, counter in stored.items()} == {ASK: 4, DRAFT: 1}


async def test_a_window_that_has_ended_starts_again_at_one(session: AsyncSession) -> None:
    user = await make_user(session)
    counters = UsageCounterRepository(session)
    first = await counters.count_many(user.id, ASK, MINUTE, 1, 1)
    assert not (await counters.count_many(user.id, ASK, MINUTE, 1, 1)).admitted

    await let_usage_counters_age(session, MINUTE)
    again = await counters.count_many(user.id, ASK, MINUTE, 1, 1)

    assert again.admitted
    assert again.counter.used == 1
    assert again.counter.window_start >= first.counter.window_start  # a new window, from now


async def test_for_user_gives_the_database_time_even_without_counters(
    session: AsyncSession,
) -> None:
    user = await make_user(session)

    now, counters = await UsageCounterRepository(session).for_user(user.id)

    assert counters == {}
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=5)


async def test_tokens_today_sums_only_the_current_utc_day(session: AsyncSession) -> None:
    user = await make_user(session)
    usage = UsageRepository(session)
    for prompt, completion in [(100, 20), (30, 5)]:
        await usage.record(
            user_id=user.id,
            kind="chat",
            provider="test",
            model="m",
            prompt_tokens=prompt,
            completion_tokens=completion,
        )
    old = await usage.record(
        user_id=user.id,
        kind="draft",
        provider="test",
        model="m",
        prompt_tokens=900,
        completion_tokens=0,
    )
    await session.execute(
        update(UsageEvent)
        .where(UsageEvent.id == old.id)
        .values(created_at=text("date_trunc('day', now(), 'UTC') - interval '1 second'"))
    )

    today = await usage.tokens_today(user.id)

    assert today.tokens == 155
    assert timedelta(0) < today.day_ends_at - today.now <= timedelta(days=1)
    assert today.day_ends_at.astimezone(UTC).time() == datetime.min.time()
    assert (await usage.tokens_today((await make_user(session)).id)).tokens == 0


async def test_an_override_is_replaced_whole_and_refuses_negative_limits(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    overrides = UserLimitRepository(session)

    first = await overrides.replace(
        user.id,
        asks_per_minute=5,
        drafts_per_minute=None,
        ingests_per_hour=0,
        tokens_per_day=10**11,
    )
    assert (first.asks_per_minute, first.ingests_per_hour, first.tokens_per_day) == (5, 0, 10**11)
    second = await overrides.replace(
        user.id,
        asks_per_minute=None,
        drafts_per_minute=2,
        ingests_per_hour=None,
        tokens_per_day=None,
    )
    assert (second.asks_per_minute, second.drafts_per_minute) == (None, 2)
    assert second.ingests_per_hour is None

    with pytest.raises(InvalidValueError):
        await overrides.replace(
            user.id,
            asks_per_minute=-1,
            drafts_per_minute=None,
            ingests_per_hour=None,
            tokens_per_day=None,
        )


# Below: real, separately committed transactions, as two processes would run them.


# `committed_user` (tests/db/conftest.py): its counters go with it.


async def count_in_own_transaction(database: Database, user: User, limit: int) -> bool:
    async with database.unit_of_work() as session:
        outcome = await UsageCounterRepository(session).count_many(user.id, ASK, LONG, limit, 1)
    return outcome.admitted


async def test_concurrent_requests_at_the_limit_let_exactly_the_limit_through(
    database: Database, committed_user: User
) -> None:
    outcomes = await asyncio.gather(
        *(count_in_own_transaction(database, committed_user, 3) for _ in range(8))
    )

    assert sorted(outcomes) == [False] * 5 + [True] * 3


async def backend_waits_for_a_lock(session: AsyncSession, pid: int) -> bool:
    statement = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
    wait_event_type: str | None = await session.scalar(statement, {"pid": pid})
    return wait_event_type == "Lock"


async def test_a_second_session_waits_for_the_first_and_is_refused_at_the_limit(
    database: Database, committed_user: User
) -> None:
    own = database.unit_of_work
    async with own() as first, own() as second, own() as observer:
        taken = await UsageCounterRepository(first).count_many(committed_user.id, ASK, LONG, 1, 1)
        second_pid = await second.scalar(text("SELECT pg_backend_pid()"))
        racing = asyncio.create_task(
            UsageCounterRepository(second).count_many(committed_user.id, ASK, LONG, 1, 1)
        )
        for _ in range(500):  # up to 10 s for the second to reach the row lock
            if await backend_waits_for_a_lock(observer, second_pid):
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the second count never waited for the first one's row lock")
        assert not racing.done()
        await first.commit()

        assert taken.admitted
        assert not (await racing).admitted


async def admit_in_own_transaction(database: Database, user: User) -> LimitReachedError | None:
    """None when admitted, else the refusal."""
    settings = get_settings().model_copy(update={"limit_asks_per_minute": 2})
    try:
        async with database.unit_of_work() as session:
            await admit(session, user.id, ASK, settings)
    except LimitReachedError as refused:
        return refused
    return None


async def test_admit_shares_the_limit_between_concurrent_sessions(
    database: Database, committed_user: User
) -> None:
    admissions = (admit_in_own_transaction(database, committed_user) for _ in range(6))
    outcomes = await asyncio.gather(*admissions)

    refusals = [outcome for outcome in outcomes if outcome is not None]
    assert len(refusals) == 4
    assert {refused.name for refused in refusals} == {"asks_per_minute"}
    assert all(1 <= refused.retry_after <= 60 for refused in refusals)
