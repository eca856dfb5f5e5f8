from datetime import datetime
from uuid import UUID

from sqlalchemy import func

from app.db.models import Session
from app.db.repositories.base import BaseRepository

# The statement's start time: stable within a statement, so the expires_at index stays usable.
_NOW = func.statement_timestamp()


class SessionRepository(BaseRepository[Session]):
    """Login sessions, looked up by the SHA-256 hash of their bearer token."""

    model = Session

    async def create(self, *, user_id: UUID, token_hash: str, expires_at: datetime) -> Session:
        """A new session; NotFoundError if the user does not exist."""
        return await self._insert(user_id=user_id, token_hash=token_hash, expires_at=expires_at)

    async def delete_by_token(self, token_hash: str) -> bool:
        """Revoke the session with this token hash; False if there was none."""
        return await self.delete_where(Session.token_hash == token_hash) > 0

    async def delete_expired(self) -> int:
        """Purge every expired session; returns how many were removed."""
        return await self.delete_where(Session.expires_at <= _NOW)

    async def delete_for_user(self, user_id: UUID, *, keep: str | None = None) -> int:
        """End the user's sessions, all but the one whose token hash is `keep`; how many."""
        where = [Session.user_id == user_id]
        if keep is not None:
            where.append(Session.token_hash != keep)
        return await self.delete_where(*where)
