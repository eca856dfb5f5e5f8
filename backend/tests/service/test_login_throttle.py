"""The throttle on real, separately committed transactions, as concurrent requests run it."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete

from app.core.config import get_settings
from app.db.models import LoginFailure, LoginFailureScope
from app.db.repositories import LoginFailureRepository
from app.db.session import Database
from app.services.login_throttle import LoginAttempt, LoginThrottle

ALLOWANCE = 3


@pytest.fixture
async def attempt(database: Database) -> AsyncIterator[LoginAttempt]:
    attempt = LoginAttempt.of(f"target-{uuid.uuid4().hex[:10]}@example.com", "192.0.2.77")
    yield attempt
    keys = [attempt.key(scope) for scope in LoginFailureScope]
    async with database.unit_of_work() as session:
        await session.execute(delete(LoginFailure).where(LoginFailure.key_hash.in_(keys)))


def throttle(database: Database) -> LoginThrottle:
    settings = get_settings().model_copy(
        update={"login_backoff_after_failures": ALLOWANCE, "login_backoff_base_seconds": 60}
    )
    return LoginThrottle(settings, database.unit_of_work)


async def test_attempts_sent_together_cannot_all_slip_through(
    database: Database, attempt: LoginAttempt
) -> None:
    """Counted before the password is checked: ten at once get ten numbers, and only the
    allowance is let in. Checking first and counting after would let all ten through."""
    waits = await asyncio.gather(*(throttle(database).admit(attempt) for _ in range(10)))

    assert waits.count(None) == ALLOWANCE
    assert all(wait > 0 for wait in waits if wait is not None)


async def test_failures_recorded_together_are_all_counted(
    database: Database, attempt: LoginAttempt
) -> None:
    await asyncio.gather(*(throttle(database).record_failure(attempt) for _ in range(6)))

    async with database.unit_of_work() as session:
        email = await LoginFailureRepository(session).get_live(
            LoginFailureScope.EMAIL, attempt.key(LoginFailureScope.EMAIL)
        )
    assert email is not None
    assert email.failures == 6
