"""Answers started together reserve their tokens, so that together they cannot pass the daily
limit by more than one answer. Real, separately committed transactions, as two processes would
run them."""

import asyncio

from sqlalchemy import func, select

from app.core.config import Settings, get_settings
from app.db.models import LimitedAction, TokenReservation, User
from app.db.repositories import UsageRepository
from app.db.session import Database
from app.services.usage_limits import LimitReachedError, admit, release_tokens, token_budget


def with_room_for(answers: int) -> Settings:
    settings = get_settings()
    limit = answers * token_budget(settings)
    return settings.model_copy(update={"limit_tokens_per_day": limit})


async def admitted(database: Database, user: User, settings: Settings) -> bool:
    """True when admitted; False when the daily tokens refused it."""
    try:
        async with database.unit_of_work() as session:
            await admit(session, user.id, LimitedAction.ASK, settings)
    except LimitReachedError as refused:
        if refused.name != "tokens_per_day":
            raise
        return False
    return True


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

    assert sorted(outcomes) == [False] * 4 + [True] * 2
    assert await reservations(database, committed_user) == 2


async def test_a_reservation_is_taken_back_when_the_answer_records_its_usage(
    database: Database, committed_user: User
) -> None:
    settings = with_room_for(1)
    assert await admitted(database, committed_user, settings)
    assert not await admitted(database, committed_user, settings)

    async with database.unit_of_work() as session:
        await UsageRepository(session).record(
            user_id=committed_user.id,
            kind="chat",
            provider="test",
            model="test",
            prompt_tokens=100,
            completion_tokens=20,
        )
        await release_tokens(session, committed_user.id)

    assert await reservations(database, committed_user) == 0
    assert await admitted(
        database, committed_user, settings
    )  # 120 used, far below one answer's budget
