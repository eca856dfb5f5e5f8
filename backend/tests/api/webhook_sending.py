"""Webhook deliveries in tests: a sender on the test's session that may reach a local receiver,
the delivery log through the API, and a signature checked as a receiver would check it."""

import uuid
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from app.core.config import get_settings
from app.services.webhooks.events import JOB_SUCCEEDED, record_event
from app.services.webhooks.sender import WebhookSender
from tests.api.conftest import Account, savepoint_unit_of_work
from tests.api.test_webhooks import LOCAL, WEBHOOKS, register
from tests.webhook_receiver import ReceivedRequest, Receiver


def sender_for(session: AsyncSession, **settings: Any) -> WebhookSender:
    """A sender on the test's session that may reach the local receiver, unless told not to."""
    configured = get_settings().model_copy(
        update={**LOCAL, "webhook_retry_base_seconds": 60, **settings}
    )
    return WebhookSender(asynccontextmanager(savepoint_unit_of_work(session)), configured)


async def send_due(sender: WebhookSender) -> bool:
    async with sender.new_client() as http:
        return await sender.run_once(http)


async def make_due(session: AsyncSession) -> None:
    await session.execute(
        text("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE status = 'pending'")
    )


def verified(request: ReceivedRequest, secret: str) -> dict[str, Any]:
    """The body, once its Standard Webhooks signature is checked as a receiver would."""
    payload: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return payload


async def deliveries(
    client: httpx.AsyncClient, account: Account, endpoint_id: str
) -> list[dict[str, Any]]:
    response = await client.get(f"{WEBHOOKS}/{endpoint_id}/deliveries", headers=account.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def record_one_event(
    hooks: Receiver, client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> dict[str, Any]:
    endpoint = await register(client, alice, hooks.url(), ["job.succeeded"])
    await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {"job_id": "x"})
    return endpoint
