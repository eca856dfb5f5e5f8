"""Fixtures of the tests that commit on real, separate connections (concurrency, read-only
sessions), where the test's rolled-back session cannot serve."""

from collections.abc import AsyncIterator

import pytest

from app.db.models import User
from app.db.repositories import UserRepository
from app.db.session import Database
from tests.factories import make_user


@pytest.fixture
async def committed_user(database: Database) -> AsyncIterator[User]:
    """A user committed for the test, deleted after it with everything the user owns."""
    async with database.unit_of_work() as session:
        user = await make_user(session)
    yield user
    async with database.unit_of_work() as session:
        await UserRepository(session).delete(user.id)
