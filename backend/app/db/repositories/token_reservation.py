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

    async def reserve(self, user_id: UUID, tokens: int, lasting: timedelta) -> UUID:
        """Set `tokens` aside for `lasting`; the reservation's id, for its work to release."""
        statement = _RESERVE.bindparams(
            user_id=user_id, tokens=tokens, seconds=lasting.total_seconds()
        )
        reservation_id: UUID = (await self.execute(statement)).scalar_one()
        return reservation_id

    async def release_unless_held(self, reservation_id: UUID) -> None:
        """Take back this reservation unless another transaction holds it (the work's own,
        which released it and has yet to end): never wait for it."""
        await self.execute(_RELEASE_UNLESS_HELD.bindparams(id=reservation_id))

    async def release(self, user_id: UUID, reservation_id: UUID) -> None:
        """Take back this reservation, whose work has ended (releasing it twice is harmless),
        and the user's expired ones with it."""
        await self.execute(_RELEASE.bindparams(user_id=user_id, id=reservation_id))


_RESERVED = text("""
    SELECT coalesce(sum(tokens), 0) FROM token_reservations
     WHERE user_id = :user_id AND expires_at > statement_timestamp()
""")
_RESERVE = text("""
    INSERT INTO token_reservations (user_id, tokens, expires_at)
    VALUES (:user_id, :tokens, statement_timestamp() + make_interval(secs => :seconds))
    RETURNING id
""")
_RELEASE = text("""
    DELETE FROM token_reservations
     WHERE user_id = :user_id AND (id = :id OR expires_at <= statement_timestamp())
""")
_RELEASE_UNLESS_HELD = text("""
    DELETE FROM token_reservations
     WHERE id IN (SELECT id FROM token_reservations WHERE id = :id FOR UPDATE SKIP LOCKED)
""")
