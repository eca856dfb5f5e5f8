"""Webhooks: the endpoints users register, and each event's delivery to each of them."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models.base import Base, created_at, one_of, owner_fk, status_index, updated_at, uuid_pk

WEBHOOK_EVENTS = (
    "job.succeeded",
    "job.failed",
    "transcript.ready",
    "collection.progress",
    "collection.ready",
)
WEBHOOK_DELIVERY_STATUSES = ("pending", "succeeded", "failed")


class WebhookEndpoint(Base):
    """A URL a user wants told about events. The secret signs each delivery (Standard
    Webhooks), so it is kept as is, not hashed: DATABASE_SCHEMA.md says why."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index("ix_webhook_endpoints_user_id_created_at", "user_id", text("created_at DESC")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users", index=False)  # the composite index leads
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSONB)
    # Encrypted with WEBHOOK_SECRET_KEYS (app/services/webhooks/secrets.py).
    secret: Mapped[str]
    # The secret before the last rotation, still signing beside the new one until it expires.
    previous_secret: Mapped[str | None]
    previous_secret_expires_at: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(server_default=text("true"), default=True)
    disabled_reason: Mapped[str | None]
    consecutive_failures: Mapped[int] = mapped_column(server_default=text("0"), default=0)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class WebhookDelivery(Base):
    """One event for one endpoint, written in the transaction that made the event happen (an
    outbox), then sent, and retried, by the delivery loop."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        one_of("status", WEBHOOK_DELIVERY_STATUSES),
        Index(
            "ix_webhook_deliveries_endpoint_id_created_at", "endpoint_id", text("created_at DESC")
        ),
        status_index("webhook_deliveries", "pending", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    endpoint_id: Mapped[uuid.UUID] = owner_fk("webhook_endpoints", index=False)
    event_type: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(
        String(20), server_default=text("'pending'"), default="pending"
    )
    attempts: Mapped[int] = mapped_column(server_default=text("0"), default=0)
    last_response_code: Mapped[int | None]
    last_error: Mapped[str | None]
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # clock_timestamp(), not now(): deliveries are listed in the order their events happened,
    # and a worker's transaction can record several events.
    created_at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())
    delivered_at: Mapped[datetime | None]
