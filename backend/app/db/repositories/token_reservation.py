"""Tokens set aside for language-model work under way (the policy: app/services/usage_limits.py)."""

from datetime import timedelta
from uuid import UUID

from sqlalchemy import text

from app.db.models import TokenReservation
from app.db.repositories.base import BaseRepository


class TokenReservationRepository(BaseRepository[TokenReservation]):
    model = TokenReservation

    async def lock_user(self, user_id: UUID) -> None:
        """Serialise the user's reservations until the transaction ends: two answers started
        at once then see each other's reservation instead of both fitting under the limit."""
        await self._lock_until_commit(f"token_reservations:{user_id}")

    async def reserved(self, user_id: UUID) -> int:
        """Tokens the user has reserved and not yet taken back, expired reservations aside."""
        return int((await self.execute(_RESERVED.bindparams(user_id=user_id))).scalar_one())

    async def reserve(self, user_id: UUID, tokens: int, lasting: timedelta) -> None:
        await self.execute(
            _RESERVE.bindparams(user_id=user_id, tokens=tokens, seconds=lasting.total_seconds())
        )

    async def release_oldest(self, user_id: UUID) -> None:
        """Take back the user's oldest reservation (expired ones go with it): its work has
        recorded what it used."""
        await self.execute(_RELEASE.bindparams(user_id=user_id))


_RESERVED = text("""
    SELECT coalesce(sum(tokens), 0) FROM token_reservations
     WHERE user_id = :user_id AND expires_at > statement_timestamp()
""")
_RESERVE = text("""
    INSERT INTO token_reservations (user_id, tokens, expires_at)
    VALUES (:user_id, :tokens, statement_timestamp() + make_interval(secs => :seconds))
""")
_RELEASE = text("""
    DELETE FROM token_reservations
     WHERE user_id = :user_id
       AND (expires_at <= statement_timestamp()
            OR id = (SELECT id FROM token_reservations
                      WHERE user_id = :user_id AND expires_at > statement_timestamp()
                      ORDER BY created_at, id LIMIT 1))
""")
