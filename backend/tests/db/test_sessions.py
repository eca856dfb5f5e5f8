import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.errors import ConflictError, NotFoundError
from app.db.repositories import SessionRepository, UserRepository
from tests.factories import in_hours, make_user


async def test_expired_session_is_not_honoured_and_is_purged(session: AsyncSession) -> None:
    user = await make_user(session)
    sessions, users = SessionRepository(session), UserRepository(session)
    await sessions.create(user_id=user.id, token_hash="old", expires_at=in_hours(-1))
    await sessions.create(user_id=user.id, token_hash="older", expires_at=in_hours(-48))
    await sessions.create(user_id=user.id, token_hash="live", expires_at=in_hours(1))

    assert await users.get_by_session_token("old") is None
    assert await sessions.delete_expired() == 2
    assert await sessions.delete_expired() == 0
    assert await users.get_by_session_token("live") is user


async def test_token_hash_is_unique(session: AsyncSession) -> None:
    user = await make_user(session)
    sessions = SessionRepository(session)
    await sessions.create(user_id=user.id, token_hash="same", expires_at=in_hours(1))
    with pytest.raises(ConflictError, match=r"Key \(token_hash\) already exists"):
        await sessions.create(user_id=user.id, token_hash="same", expires_at=in_hours(1))


async def test_session_for_unknown_user_is_not_found(session: AsyncSession) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError, match=str(missing)):
        await SessionRepository(session).create(
            user_id=missing, token_hash="t", expires_at=in_hours(1)
        )


async def test_delete_by_token_revokes(session: AsyncSession) -> None:
    user = await make_user(session)
    sessions = SessionRepository(session)
    await sessions.create(user_id=user.id, token_hash="revoke-me", expires_at=in_hours(1))

    assert await sessions.delete_by_token("revoke-me") is True
    assert await sessions.delete_by_token("revoke-me") is False
    assert await UserRepository(session).get_by_session_token("revoke-me") is None


async def test_the_user_behind_a_live_token_in_one_lookup(session: AsyncSession) -> None:
    user = await make_user(session)
    sessions = SessionRepository(session)
    await sessions.create(user_id=user.id, token_hash="live-hash", expires_at=in_hours(1))
    await sessions.create(user_id=user.id, token_hash="dead-hash", expires_at=in_hours(-1))
    users = UserRepository(session)

    assert await users.get_by_session_token("live-hash") is user
    assert await users.get_by_session_token("dead-hash") is None
    assert await users.get_by_session_token("unknown") is None
