from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import func, or_, select, update

from app.db.models import ApiKey, ApiKeyScope
from app.db.repositories.base import UserListedRepository

# last_used_at is for people, not for auditing to the millisecond: writing it at most once a
# minute keeps a busy key from turning every request into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyRepository(UserListedRepository[ApiKey]):
    """API keys, looked up by the SHA-256 hash of the key; a user's page lists revoked ones too."""

    model = ApiKey

    async def create(
        self,
        *,
        user_id: UUID,
        name: str,
        key_prefix: str,
        key_hash: str,
        scopes: Sequence[str] = (ApiKeyScope.READ, ApiKeyScope.WRITE),
        expires_at: datetime | None = None,
    ) -> ApiKey:
        """A new key; NotFoundError if the user does not exist."""
        return await self._insert(
            user_id=user_id,
            name=name,
            key_prefix=key_prefix,
            key_hash=key_hash,
            scopes=list(scopes),
            expires_at=expires_at,
        )

    async def get_active_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this hash unless it was revoked or has expired; None otherwise."""
        statement = select(ApiKey).where(
            ApiKey.key_hash == key_hash,
            ApiKey.revoked_at.is_(None),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > func.now()),
        )
        return await self.first(statement)

    async def revoke(self, key_id: UUID, user_id: UUID) -> bool:
        """Revoke the user's key, once: a key revoked before keeps when it was. False when it
        is not theirs."""
        statement = (
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.user_id == user_id)
            .values(revoked_at=func.coalesce(ApiKey.revoked_at, func.now()))
            .returning(ApiKey)
            # The session's copy of the key, if it holds one, says it is revoked too.
            .execution_options(populate_existing=True, synchronize_session=False)
        )
        return (await self.execute(statement)).first() is not None

    async def record_use(self, key_id: UUID) -> None:
        """Move last_used_at to now, unless it was moved within the last minute."""
        statement = (
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(
                    ApiKey.last_used_at.is_(None),
                    ApiKey.last_used_at < func.now() - LAST_USED_RESOLUTION,
                ),
            )
            .values(last_used_at=func.now())
            .execution_options(synchronize_session=False)
        )
        await self.execute(statement)
