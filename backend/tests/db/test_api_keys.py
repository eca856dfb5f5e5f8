"""Revoking a key: for its owner only, once (a second revocation keeps the first's time), and
the session's copy of the key says so."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories import ApiKeyRepository
from tests.factories import make_user


async def test_a_key_is_revoked_once_by_its_owner_and_reads_revoked(
    session: AsyncSession,
) -> None:
    owner, other = await make_user(session), await make_user(session)
    keys = ApiKeyRepository(session)
    key = await keys.create(
        user_id=owner.id, name="script", key_prefix="ytk_abc", key_hash=uuid.uuid4().hex
    )

    assert await keys.revoke(key.id, other.id) is False
    assert key.revoked_at is None
    assert await keys.revoke(key.id, owner.id) is True
    revoked_at = key.revoked_at
    assert revoked_at is not None
    assert await keys.revoke(key.id, owner.id) is True
    held = await keys.get_by_id(key.id)
    assert held is key
    assert key.revoked_at == revoked_at  # the API test checks it across transactions
