from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import case, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB

from app.db.models import WebhookDelivery, WebhookEndpoint
from app.db.repositories.base import BaseRepository
from app.db.repositories.paging import FIRST_PAGE, PageRequest, RowPage


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery taken by the delivery loop, with what sending it needs from its endpoint."""

    id: UUID
    endpoint_id: UUID
    url: str
    secret: str  # as stored: encrypted
    previous_secret: str | None  # as stored; None once its overlap is over
    event_type: str
    payload: dict[str, Any]
    attempts: int


class WebhookDeliveryRepository(BaseRepository[WebhookDelivery]):
    """The outbox of webhook deliveries: written with the event, claimed and settled by the
    delivery loop, listed for the endpoint's owner."""

    model = WebhookDelivery

    async def create(
        self, *, endpoint_id: UUID, event_type: str, payload: dict[str, Any]
    ) -> WebhookDelivery:
        """A pending delivery of one event to one endpoint; NotFoundError if it does not exist."""
        return await self._insert(endpoint_id=endpoint_id, event_type=event_type, payload=payload)

    async def enqueue_for_subscribers(
        self, user_id: UUID, event_type: str, payload: dict[str, Any]
    ) -> int:
        """A pending delivery of the event for each of the user's enabled endpoints that
        subscribed to it, in one statement; returns how many."""
        subscribers = select(
            WebhookEndpoint.id,
            literal(event_type),
            literal(payload, JSONB),
        ).where(
            WebhookEndpoint.user_id == user_id,
            WebhookEndpoint.enabled,
            WebhookEndpoint.events.contains([event_type]),
        )
        # Without the mapping's Python defaults: its client-side id would be one value for
        # every row selected. The table's defaults (gen_random_uuid(), …) fill each row.
        result = await self.execute(
            insert(WebhookDelivery)
            .from_select(
                ["endpoint_id", "event_type", "payload"], subscribers, include_defaults=False
            )
            .returning(WebhookDelivery.id)
        )
        return len(result.all())

    async def claim_next(self, lease: timedelta) -> ClaimedDelivery | None:
        """Take the next due delivery of an enabled endpoint, counting an attempt.

        FOR UPDATE SKIP LOCKED lets any number of loops claim at once without taking the same
        delivery twice. The claim moves next_attempt_at a lease ahead: if the loop dies while
        sending, the delivery falls due again then, and another loop retries it.
        """
        now = func.clock_timestamp()
        candidate = (
            select(WebhookDelivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.enabled,
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(1)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
        statement = (
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == candidate.scalar_subquery(),
                WebhookEndpoint.id == WebhookDelivery.endpoint_id,
            )
            .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=now + lease)
            .returning(
                WebhookDelivery.id,
                WebhookDelivery.endpoint_id,
                WebhookEndpoint.url,
                WebhookEndpoint.secret,
                case(
                    (
                        WebhookEndpoint.previous_secret_expires_at > now,
                        WebhookEndpoint.previous_secret,
                    )
                ),
                WebhookDelivery.event_type,
                WebhookDelivery.payload,
                WebhookDelivery.attempts,
            )
            .execution_options(synchronize_session=False)
        )
        row = (await self.execute(statement)).one_or_none()
        return ClaimedDelivery(*row) if row is not None else None

    async def mark_succeeded(self, delivery_id: UUID, response_code: int) -> None:
        await self._set(
            delivery_id,
            status="succeeded",
            last_response_code=response_code,
            last_error=None,
            delivered_at=func.clock_timestamp(),
        )

    async def retry_later(
        self, delivery_id: UUID, response_code: int | None, error: str, delay: timedelta
    ) -> None:
        await self._set(
            delivery_id,
            last_response_code=response_code,
            last_error=error,
            next_attempt_at=func.clock_timestamp() + delay,
        )

    async def mark_failed(self, delivery_id: UUID, response_code: int | None, error: str) -> None:
        await self._set(
            delivery_id, status="failed", last_response_code=response_code, last_error=error
        )

    async def fail_pending_of(self, endpoint_id: UUID, why: str) -> int:
        """Give up the endpoint's pending deliveries (it was disabled), saying why after the
        error each one already had; returns how many."""
        result = await self.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
            .values(
                status="failed", last_error=func.concat_ws("; ", WebhookDelivery.last_error, why)
            )
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)

    async def send_again(self, endpoint_id: UUID, delivery_id: UUID) -> WebhookDelivery | None:
        """Queue the endpoint's delivery to be sent again now, its attempts and their outcome
        counted afresh, and return it; None when the endpoint has no such delivery, or it is
        pending still (the delivery loop may be sending it)."""
        statement = (
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.status != "pending",
            )
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=func.clock_timestamp(),
                delivered_at=None,
                # The earlier sending's outcome is not this one's: its attempts start afresh.
                last_response_code=None,
                last_error=None,
            )
            .returning(WebhookDelivery)
            .execution_options(populate_existing=True, synchronize_session=False)
        )
        delivery: WebhookDelivery | None = (await self.execute(statement)).scalar_one_or_none()
        return delivery

    async def is_of_endpoint(self, endpoint_id: UUID, delivery_id: UUID) -> bool:
        """Whether the endpoint has this delivery (another endpoint's is not)."""
        of_endpoint = (
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.endpoint_id == endpoint_id,
        )
        return await self.count(*of_endpoint) > 0

    async def page_for_endpoint(
        self, endpoint_id: UUID, page: PageRequest = FIRST_PAGE
    ) -> RowPage[WebhookDelivery]:
        """A page of the endpoint's deliveries, newest first."""
        return await self._newest_first(WebhookDelivery.endpoint_id == endpoint_id, page=page)
