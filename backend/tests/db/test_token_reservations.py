"""Answers started together reserve their tokens, so that together they cannot pass the daily
limit by more than one answer. Real, separately committed transactions, as two processes would
run them."""

import asyncio
from uuid import UUID

import anyio
import pytest
from sqlalchemy import func, select

from app.core.config import Settings, get_settings
from app.db.models import LimitedAction, TokenReservation, User
from app.db.repositories import UsageRepository
from app.db.session import Database
from app.services.usage_limits import (
    LimitReachedError,
    admit,
    release_tokens,
    released_if_unfinished,
    token_budget,
)


def with_room_for(answers: int) -> Settings:
    settings = get_settings()
    limit = answers * token_budget(settings)
    return settings.model_copy(update={"limit_tokens_per_day": limit})


async def admitted(database: Database, user: User, settings: Settings) -> UUID | None:
    """The reservation of the admitted work; None when the daily tokens refused it."""
    try:
        async with database.unit_of_work() as session:
            return await admit(session, user.id, LimitedAction.ASK, settings)
    except LimitReachedError as refused:
        if refused.name != "tokens_per_day":
            raise
        return None


async def reservations(database: Database, user: User) -> int:
    async with database.unit_of_work() as session:
        statement = select(func.count()).where(TokenReservation.user_id == user.id)
        return int((await session.execute(statement)).scalar_one())


async def test_answers_started_together_fit_under_the_limit(
    database: Database, committed_user: User
) -> None:
    settings = with_room_for(2)

    outcomes = await asyncio.gather(
        *(admitted(database, committed_user, settings) for _ in range(6))
    )

    assert sorted(outcome is not None for outcome in outcomes) == [False] * 4 + [True] * 2
    assert await reservations(database, committed_user) == 2


async def test_a_reservation_is_taken_back_when_the_answer_records_its_usage(
    database: Database, committed_user: User
) -> None:
    settings = with_room_for(1)
    reservation = await admitted(database, committed_user, settings)
    assert reservation is not None
    assert await admitted(database, committed_user, settings) is None

    async with database.unit_of_work() as session:
        await UsageRepository(session).record(
            user_id=committed_user.id,
            kind="chat",
            provider="test",
            model="test",
            prompt_tokens=100,
            completion_tokens=20,
        )
        await release_tokens(session, committed_user.id, reservation)

    assert await reservations(database, committed_user) == 0
    assert await admitted(
        database, committed_user, settings
    )  # 120 used, far below one answer's budget


async def test_answers_ending_together_each_give_back_their_own_reservation(
    database: Database, committed_user: User
) -> None:
    settings = with_room_for(4)
    started = await asyncio.gather(
        *(admitted(database, committed_user, settings) for _ in range(4))
    )

    async def release(reservation: UUID | None) -> None:
        async with database.unit_of_work() as session:
            await release_tokens(session, committed_user.id, reservation)

    await asyncio.gather(*(release(reservation) for reservation in started))

    assert None not in started
    assert await reservations(database, committed_user) == 0


async def test_work_that_fails_gives_back_its_reservation(
    database: Database, committed_user: User
) -> None:
    reservation = await admitted(database, committed_user, with_room_for(1))
    with pytest.raises(RuntimeError, match="the model is down"):
        async with released_if_unfinished(database.unit_of_work, reservation):
            raise RuntimeError("the model is down")

    assert await reservations(database, committed_user) == 0


async def test_giving_back_a_reservation_never_waits_for_the_work_that_released_it(
    database: Database, committed_user: User
) -> None:
    """The work released its reservation in its own transaction, then failed before that
    transaction ended: the fallback must not wait for it (it would wait for ever)."""
    reservation = await admitted(database, committed_user, with_room_for(1))
    async with database.unit_of_work() as working:
        await release_tokens(working, committed_user.id, reservation)
        with anyio.fail_after(10), pytest.raises(RuntimeError, match="could not be stored"):
            async with released_if_unfinished(database.unit_of_work, reservation):
                raise RuntimeError("the message could not be stored")
