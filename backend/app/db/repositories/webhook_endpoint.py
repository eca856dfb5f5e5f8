from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from sqlalchemy import func, select, update

from app.db.models import WebhookEndpoint
from app.db.repositories.base import UserListedRepository


@dataclass(frozen=True, slots=True)
class StoredSecrets:
    """An endpoint's secrets as stored: encrypted, or in clear when written before that."""

    id: UUID
    secret: str
    previous_secret: str | None


class WebhookEndpointRepository(UserListedRepository[WebhookEndpoint]):
    """The URLs users register for events, and the failure count that can disable them."""

    model = WebhookEndpoint
    read_afresh = True  # the delivery loop changes endpoints behind any session's back

    async def create(
        self, *, user_id: UUID, url: str, events: Sequence[str], secret: str
    ) -> WebhookEndpoint:
        """A new enabled endpoint; NotFoundError if the user does not exist."""
        return await self._insert(user_id=user_id, url=url, events=list(events), secret=secret)

    async def lock_registrations(self, user_id: UUID) -> None:
        """Serialise the user's registrations until the transaction ends, so that several at
        once cannot all count the same number of endpoints and pass the limit together."""
        await self._lock_until_commit(f"webhook endpoints:{user_id}")

    async def count_by_user(self, user_id: UUID) -> int:
        """How many endpoints the user has (they may have a limited number)."""
        return await self.count(WebhookEndpoint.user_id == user_id)

    async def enable(self, endpoint: WebhookEndpoint) -> None:
        """On again, with a clean slate: no reason, no failures counted."""
        endpoint.enabled, endpoint.disabled_reason, endpoint.consecutive_failures = True, None, 0
        await self.flush()

    async def record_success(self, endpoint_id: UUID) -> None:
        await self._set(endpoint_id, consecutive_failures=0)

    async def record_failure(self, endpoint_id: UUID) -> int:
        """Count one more failed attempt in a row; returns the count (0 if the endpoint went)."""
        result = await self.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(consecutive_failures=WebhookEndpoint.consecutive_failures + 1)
            .returning(WebhookEndpoint.consecutive_failures)
            .execution_options(synchronize_session=False)
        )
        count = result.scalar_one_or_none()
        return int(count or 0)

    async def disable(self, endpoint_id: UUID, reason: str) -> None:
        await self._set(endpoint_id, enabled=False, disabled_reason=reason)

    async def replace_secret(
        self,
        endpoint: WebhookEndpoint,
        secret: str,
        previous_secret: str | None,
        overlap: timedelta,
    ) -> None:
        """A new (stored) secret; the previous one kept for `overlap` by the database's clock,
        which the claim compares it with."""
        endpoint.secret, endpoint.previous_secret = secret, previous_secret
        endpoint.previous_secret_expires_at = (
            None if previous_secret is None else func.clock_timestamp() + overlap
        )
        await self.flush()
        # The expression's value is read back; an async session cannot load it lazily later.
        await self.session.refresh(endpoint, ["previous_secret_expires_at"])

    async def forget_ended_previous_secrets(self) -> int:
        """Clear the previous secrets whose overlap is over; returns how many. They sign
        nothing any more (the claim skips them), and a replaced secret may be a leaked one."""
        result = await self.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.previous_secret_expires_at <= func.clock_timestamp())
            .values(previous_secret=None, previous_secret_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)

    async def stored_secrets_after(self, after: UUID | None, limit: int) -> list[StoredSecrets]:
        """The stored secrets of up to `limit` endpoints, in id order after `after`, locked
        until the transaction ends."""
        statement = (
            select(WebhookEndpoint.id, WebhookEndpoint.secret, WebhookEndpoint.previous_secret)
            .order_by(WebhookEndpoint.id)
            .limit(limit)
            .with_for_update()
        )
        if after is not None:
            statement = statement.where(WebhookEndpoint.id > after)
        rows = await self.execute(statement)
        return [StoredSecrets(*row) for row in rows]

    async def store_secrets(
        self, endpoint_id: UUID, secret: str, previous_secret: str | None
    ) -> None:
        await self._set(endpoint_id, secret=secret, previous_secret=previous_secret)
