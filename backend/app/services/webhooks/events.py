"""The events a webhook can tell, and writing them down as deliveries.

An event is written in the same transaction as the change it reports (a job finished, a
transcript's vectors stored): both are committed, or neither. Nothing is sent here; the
delivery loop (`sender.py`) sends what was committed. The body follows the Standard Webhooks
shape: `{"type": …, "timestamp": …, "data": {…}}`.
"""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.errors import NotFoundError
from app.db.models import WEBHOOK_EVENTS, WebhookDelivery
from app.db.repositories import WebhookDeliveryRepository

JOB_SUCCEEDED, JOB_FAILED, TRANSCRIPT_READY, COLLECTION_PROGRESS, COLLECTION_READY = WEBHOOK_EVENTS
# Sent on request (POST /webhooks/{id}/test) to that endpoint only, whatever its events.
PING = "webhook.test"


async def record_event(
    session: AsyncSession, user_id: UUID, event_type: str, data: dict[str, Any]
) -> int:
    """A pending delivery for each of the user's endpoints listening for `event_type`, in the
    session's transaction; returns how many."""
    assert event_type in WEBHOOK_EVENTS, event_type
    return await WebhookDeliveryRepository(session).enqueue_for_subscribers(
        user_id, event_type, body(event_type, data)
    )


async def record_ping(session: AsyncSession, endpoint_id: UUID) -> WebhookDelivery:
    """A `webhook.test` delivery for this endpoint alone, to try a receiver."""
    return await WebhookDeliveryRepository(session).create(
        endpoint_id=endpoint_id,
        event_type=PING,
        payload=body(PING, {"endpoint_id": str(endpoint_id)}),
    )


class DeliveryPendingError(Exception):
    """A delivery still pending is not queued again: the delivery loop sends it when due."""


async def send_again(
    session: AsyncSession, endpoint_id: UUID, delivery_id: UUID
) -> WebhookDelivery:
    """Queue an ended delivery (succeeded or failed) of the endpoint to be sent again now, with
    the same body and `webhook-id` (a receiver that saw it before can tell), its attempts
    counted afresh. NotFoundError when the endpoint has no such delivery."""
    deliveries = WebhookDeliveryRepository(session)
    delivery = await deliveries.send_again(endpoint_id, delivery_id)
    if delivery is not None:
        return delivery
    if not await deliveries.is_of_endpoint(endpoint_id, delivery_id):
        raise NotFoundError("Webhook delivery", delivery_id)
    raise DeliveryPendingError("the delivery is pending: it is sent when due")


def body(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "timestamp": datetime.now(UTC).isoformat(), "data": data}


def job_data(job_id: UUID, kind: str, video_id: str, attempts: int, status: str) -> dict[str, Any]:
    """What every job event says; the caller adds the outcome (transcript, or error)."""
    return {
        "job_id": str(job_id),
        "kind": kind,
        "youtube_video_id": video_id,
        "status": status,
        "attempts": attempts,
    }


def transcript_ready_data(transcript_id: UUID, video_id: str) -> dict[str, Any]:
    return {"transcript_id": str(transcript_id), "youtube_video_id": video_id}
