"""Runtime settings in the database: the per-process cache across sessions and processes, and
the history written in the transaction of the change."""

import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings, get_settings
from app.db.errors import NotFoundError
from app.db.models import Config, ConfigChange, User
from app.db.repositories import ConfigChangeRepository, ConfigRepository
from app.db.repositories.paging import PageRequest
from app.services.runtime_settings import RuntimeSettings, remove_override, set_override
from tests.factories import make_user
from tests.statements import statements_sent

KEY = "chat_context_chunks"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def base() -> Settings:
    return get_settings()


async def change_count(session: AsyncSession, key: str = KEY) -> int:
    return (await ConfigChangeRepository(session).history(key, PageRequest(10, 0))).total


async def stored(session: AsyncSession) -> Any:
    """The stored override, read afresh (not from the session's identity map)."""
    return (await ConfigRepository(session).stored_values()).get(KEY)


async def fail_after(session: AsyncSession, change: Awaitable[Any]) -> None:
    """Make the change in a savepoint, then fail before it is released."""
    async with session.begin_nested():
        await change
        assert await change_count(session) > 0
        raise RuntimeError("something failed after the write")


async def test_a_change_and_its_history_are_one_transaction(
    session: AsyncSession, base: Settings
) -> None:
    admin = await make_user(session)
    with pytest.raises(RuntimeError):
        await fail_after(session, set_override(session, base, KEY, 8, admin.id))
    assert await stored(session) is None
    assert await change_count(session) == 0

    await set_override(session, base, KEY, 8, admin.id)
    with pytest.raises(RuntimeError):
        await fail_after(session, remove_override(session, KEY, admin.id))
    assert await stored(session) == 8
    assert await change_count(session) == 1


async def override_for_nobody(session: AsyncSession, base: Settings) -> None:
    async with session.begin_nested():
        # No such user: the history row's foreign key fails after the override is written.
        await set_override(session, base, KEY, 8, uuid.uuid4())


async def test_a_history_that_cannot_be_written_leaves_no_override(
    session: AsyncSession, base: Settings
) -> None:
    with pytest.raises(NotFoundError):
        await override_for_nobody(session, base)
    assert await stored(session) is None
    assert await change_count(session) == 0


async def test_the_history_outlives_the_administrator(
    session: AsyncSession, base: Settings
) -> None:
    admin = await make_user(session)
    await set_override(session, base, KEY, 8, admin.id)
    await session.execute(delete(User).where(User.id == admin.id))
    page = await ConfigChangeRepository(session).history(KEY, PageRequest(10, 0))
    assert [(row["new_value"], row["changed_by"]) for row in page.rows] == [(8, None)]


async def test_steady_state_reads_cost_no_round_trip(
    session: AsyncSession, engine: AsyncEngine, base: Settings
) -> None:
    clock = Clock()
    runtime = RuntimeSettings(base, clock=clock)
    await ConfigRepository(session).set_value(KEY, 8)

    with statements_sent(engine) as sent:
        first = await runtime.effective(session)
        clock.now += runtime.ttl / 2
        for _ in range(10):
            assert await runtime.effective(session) is first
    assert first.chat_context_chunks == 8
    assert len(sent) == 1

    with statements_sent(engine) as sent:
        clock.now += runtime.ttl
        await runtime.effective(session)
    assert len(sent) == 1  # read again once the time is up


async def test_an_override_that_does_not_fit_is_ignored(
    session: AsyncSession, base: Settings
) -> None:
    await ConfigRepository(session).set_value(KEY, 5000)  # above its bound, written by hand
    await ConfigRepository(session).set_value("llm_temperature", 1.5)
    effective = await RuntimeSettings(base).effective(session)
    assert effective.chat_context_chunks == base.chat_context_chunks
    assert effective.llm_temperature == 1.5


@pytest.fixture
async def committed_admin(engine: AsyncEngine) -> AsyncIterator[User]:
    """An administrator committed for real, and everything the test commits removed after."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        admin = await make_user(session)
        await session.commit()
    try:
        yield admin
    finally:
        async with AsyncSession(engine) as session:
            await session.execute(delete(ConfigChange).where(ConfigChange.key == KEY))
            await session.execute(delete(Config).where(Config.key == KEY))
            await session.execute(delete(User).where(User.id == admin.id))
            await session.commit()


async def test_other_processes_see_a_change_within_the_cache_time(
    engine: AsyncEngine, committed_admin: User, base: Settings
) -> None:
    """Two instances, as in two server processes, each on sessions of its own: the one that
    writes sees the change at once, the other once its copy is older than the cache time."""
    clock = Clock()
    writer, other = RuntimeSettings(base, clock=clock), RuntimeSettings(base, clock=clock)
    default = base.chat_context_chunks
    async with AsyncSession(engine) as session:
        assert (await writer.effective(session)).chat_context_chunks == default
        assert (await other.effective(session)).chat_context_chunks == default

    clock.now += 1
    async with AsyncSession(engine) as session:
        await set_override(session, base, KEY, default + 3, committed_admin.id)
        await session.commit()
    writer.invalidate()

    async with AsyncSession(engine) as session:
        assert (await writer.effective(session)).chat_context_chunks == default + 3
        assert (await other.effective(session)).chat_context_chunks == default
        clock.now += other.ttl - 1.01  # just under the cache time since the other read
        assert (await other.effective(session)).chat_context_chunks == default
        clock.now += 0.02
        assert (await other.effective(session)).chat_context_chunks == default + 3


async def test_a_read_begun_before_an_invalidation_is_not_kept(
    session: AsyncSession, base: Settings
) -> None:
    runtime = RuntimeSettings(base, clock=Clock())
    original = ConfigRepository.stored_values

    async def invalidated_meanwhile(self: ConfigRepository) -> dict[str, Any]:
        values = await original(self)
        runtime.invalidate()  # a change committed while this read was on its way
        return values

    ConfigRepository.stored_values = invalidated_meanwhile  # type: ignore[method-assign]
    try:
        await runtime.effective(session)
    finally:
        ConfigRepository.stored_values = original  # type: ignore[method-assign]
    await ConfigRepository(session).set_value(KEY, 9)
    assert (await runtime.effective(session)).chat_context_chunks == 9


async def test_a_failed_read_is_tried_again_at_the_next_request(
    session: AsyncSession, base: Settings
) -> None:
    clock = Clock()
    runtime = RuntimeSettings(base, clock=clock)
    await runtime.effective(session)
    clock.now += runtime.ttl + 1
    await ConfigRepository(session).set_value(KEY, 7)
    original = ConfigRepository.stored_values

    async def unavailable(self: ConfigRepository) -> dict[str, Any]:
        raise ConnectionError("the database went away")

    ConfigRepository.stored_values = unavailable  # type: ignore[method-assign]
    try:
        with pytest.raises(ConnectionError):
            await runtime.effective(session)
    finally:
        ConfigRepository.stored_values = original  # type: ignore[method-assign]
    assert (await runtime.effective(session)).chat_context_chunks == 7
