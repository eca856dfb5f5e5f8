"""Login-attempt counters: atomic counting (also across connections), windows, take-back, purge."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import LoginFailure, LoginFailureScope
from app.db.repositories import CounterKey, LoginFailureRepository
from app.db.session import Database
from tests.factories import let_login_failures_age

PAIR, CLIENT, EMAIL = (
    LoginFailureScope.EMAIL_CLIENT,
    LoginFailureScope.CLIENT,
    LoginFailureScope.EMAIL,
)
HOUR = timedelta(hours=1)


def unique_key() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


async def test_add_one_counts_every_key_and_remembers_the_attempt_before(
    session: AsyncSession,
) -> None:
    counters = LoginFailureRepository(session)
    pair, client = CounterKey(PAIR, unique_key(), HOUR), CounterKey(CLIENT, unique_key(), HOUR)

    first = await counters.add_one([pair, client])
    second = await counters.add_one([pair])

    assert first[PAIR].failures == first[CLIENT].failures == 1
    assert first[PAIR].previous_failure_at is None
    assert second[PAIR].failures == 2
    assert second[PAIR].previous_failure_at == first[PAIR].last_failure_at
    assert second[PAIR].last_failure_at > first[PAIR].last_failure_at
    # The window is fixed from the first attempt, not moved by later ones.
    assert second[PAIR].expires_at == first[PAIR].expires_at
    assert abs(first[PAIR].expires_at - first[PAIR].last_failure_at - HOUR) < timedelta(seconds=1)


async def test_a_counter_starts_again_once_its_window_has_ended(session: AsyncSession) -> None:
    counters = LoginFailureRepository(session)
    key = CounterKey(EMAIL, unique_key(), HOUR)
    for _ in range(3):
        await counters.add_one([key])
    assert await counters.get_live(EMAIL, key.key_hash) is not None

    await let_login_failures_age(session, HOUR)

    assert await counters.get_live(EMAIL, key.key_hash) is None
    restarted = (await counters.add_one([key]))[EMAIL]
    assert restarted.failures == 1
    assert restarted.previous_failure_at is None


async def test_take_back_one_never_goes_below_zero_and_forget_deletes(
    session: AsyncSession,
) -> None:
    counters = LoginFailureRepository(session)
    key = CounterKey(CLIENT, unique_key(), HOUR)
    await counters.add_one([key])
    await counters.add_one([key])

    await counters.take_back_one(CLIENT, key.key_hash)
    live = await counters.get_live(CLIENT, key.key_hash)
    assert live is not None
    assert live.failures == 1
    await counters.take_back_one(CLIENT, key.key_hash)
    await counters.take_back_one(CLIENT, key.key_hash)
    live = await counters.get_live(CLIENT, key.key_hash)
    assert live is not None
    assert live.failures == 0

    assert await counters.forget(CLIENT, key.key_hash) is True
    assert await counters.get_live(CLIENT, key.key_hash) is None
    assert await counters.forget(CLIENT, key.key_hash) is False


async def test_purge_removes_counters_whose_window_has_ended(session: AsyncSession) -> None:
    counters = LoginFailureRepository(session)
    ended = [CounterKey(PAIR, unique_key(), HOUR), CounterKey(EMAIL, unique_key(), HOUR)]
    await counters.add_one(ended)
    await let_login_failures_age(session, HOUR)
    live = CounterKey(PAIR, unique_key(), HOUR)
    await counters.add_one([live])

    assert await counters.delete_expired() >= 2
    assert await counters.delete_expired() == 0
    ours = [key.key_hash for key in [*ended, live]]
    remaining = await session.scalars(
        select(LoginFailure.key_hash).where(LoginFailure.key_hash.in_(ours))
    )
    assert set(remaining) == {live.key_hash}


# Below: real, separately committed transactions, as two processes would run them.


@pytest.fixture
async def committed_key(database: Database) -> AsyncIterator[CounterKey]:
    key = CounterKey(PAIR, unique_key(), HOUR)
    yield key
    async with database.unit_of_work() as session:
        await session.execute(delete(LoginFailure).where(LoginFailure.key_hash == key.key_hash))


async def count_in_own_transaction(database: Database, key: CounterKey) -> int:
    async with database.unit_of_work() as session:
        counts = await LoginFailureRepository(session).add_one([key])
    return counts[key.scope].failures


async def test_concurrent_attempts_are_all_counted_each_with_its_own_number(
    database: Database, committed_key: CounterKey
) -> None:
    counts = (count_in_own_transaction(database, committed_key) for _ in range(8))
    numbers = await asyncio.gather(*counts)

    assert sorted(numbers) == list(range(1, 9))


async def backend_waits_for_a_lock(session: AsyncSession, pid: int) -> bool:
    statement = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
    wait_event_type: str | None = await session.scalar(statement, {"pid": pid})
    return wait_event_type == "Lock"


async def test_a_count_waits_for_a_concurrent_one_and_then_adds_to_it(
    database: Database, committed_key: CounterKey
) -> None:
    own = database.unit_of_work
    async with own() as holder, own() as waiter, own() as observer:
        first = await LoginFailureRepository(holder).add_one([committed_key])
        waiter_pid = await waiter.scalar(text("SELECT pg_backend_pid()"))
        second = asyncio.create_task(LoginFailureRepository(waiter).add_one([committed_key]))
        for _ in range(500):  # up to 10 s for the waiter to reach the row lock
            if await backend_waits_for_a_lock(observer, waiter_pid):
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the second count never waited for the first one's row lock")
        assert not second.done()
        await holder.commit()

        assert first[PAIR].failures == 1
        assert (await second)[PAIR].failures == 2
