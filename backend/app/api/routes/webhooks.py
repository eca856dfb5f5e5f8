"""Webhook endpoints: register a URL for events, see its deliveries. Deliveries are sent by the
delivery loop (app/services/webhooks/sender.py), never by these routes."""

from datetime import timedelta
from functools import partial
from typing import Annotated
from uuid import UUID

from fastapi import Body, Response

from app.api.deps import CurrentUser, RuntimeSettingsDep, SessionDep, SettingsDep
from app.api.errors import error_responses
from app.api.owned import EnabledWebhook, OwnedWebhook, deleted
from app.api.routing import Locate, api_router
from app.api.schemas.common import LongPaging, Page, Paging, page_of
from app.api.schemas.webhooks import (
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryPublic,
    WebhookPublic,
    WebhookSecretRotated,
    WebhookSecretRotation,
    WebhookUpdate,
)
from app.db.models import LimitedAction, WebhookDelivery, WebhookEndpoint
from app.db.repositories import WebhookDeliveryRepository, WebhookEndpointRepository
from app.services.usage_limits import admit, admit_and_commit
from app.services.webhooks.endpoints import change_endpoint, register_endpoint, rotate_secret
from app.services.webhooks.events import record_ping, send_again

router = api_router("/webhooks", "webhooks")


# Optional: no body keeps the previous secret for a day. The example is given here, as FastAPI
# does not take the model's for an optional body.
RotationBody = Annotated[
    WebhookSecretRotation | None,
    Body(openapi_examples={"an hour": {"value": {"overlap_seconds": 3600}}}),
]


@router.post("", status_code=201, responses=error_responses(409))
async def create_webhook(
    body: WebhookCreate,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    locate: Locate,
) -> WebhookCreated:
    """Register an endpoint for events. The signing secret is in this response only."""
    endpoint, secret = await register_endpoint(session, user.id, body.url, body.events, settings)
    locate("get_webhook", endpoint_id=endpoint.id)
    return WebhookCreated(**WebhookPublic.model_validate(endpoint).model_dump(), secret=secret)


@router.get("")
async def list_webhooks(
    user: CurrentUser, session: SessionDep, paging: LongPaging
) -> Page[WebhookPublic]:
    """The caller's endpoints, newest first, without their secrets."""
    page = await WebhookEndpointRepository(session).page_for_user(user.id, paging)
    return page_of(WebhookPublic, page)


@router.get("/{endpoint_id:uuid}", response_model=WebhookPublic, responses=error_responses(404))
async def get_webhook(endpoint: OwnedWebhook) -> WebhookEndpoint:
    """One endpoint: whether it is on, and why not when it was disabled."""
    return endpoint


@router.patch("/{endpoint_id:uuid}", response_model=WebhookPublic, responses=error_responses(404))
async def update_webhook(
    endpoint: OwnedWebhook, body: WebhookUpdate, session: SessionDep, settings: SettingsDep
) -> WebhookEndpoint:
    """Change the URL or the events, or turn the endpoint on (`enabled: true`) or off."""
    return await change_endpoint(
        session, endpoint, settings, url=body.url, events=body.events, enabled=body.enabled
    )


@router.delete("/{endpoint_id:uuid}", status_code=204, responses=error_responses(404))
async def delete_webhook(endpoint: OwnedWebhook, session: SessionDep) -> Response:
    """Remove the endpoint and its delivery log."""
    done = await WebhookEndpointRepository(session).delete(endpoint.id)
    return deleted(done, "Webhook endpoint", endpoint.id)


@router.get("/{endpoint_id:uuid}/deliveries", responses=error_responses(404))
async def list_deliveries(
    endpoint: OwnedWebhook, session: SessionDep, paging: Paging
) -> Page[WebhookDeliveryPublic]:
    """The endpoint's deliveries, newest first: status, attempts, the last answer's code and
    error, and when a pending one is tried next."""
    page = await WebhookDeliveryRepository(session).page_for_endpoint(endpoint.id, paging)
    return page_of(WebhookDeliveryPublic, page)


# A test ping and a redelivery share one contract: a delivery queued (202), on an enabled
# endpoint of the caller's (404, 409), within the hour's test pings (429).
queues_a_delivery = partial(
    router.post,
    status_code=202,
    response_model=WebhookDeliveryPublic,
    responses=error_responses(404, 409, 429),
)


@queues_a_delivery("/{endpoint_id:uuid}/test")
async def send_test_delivery(
    endpoint: EnabledWebhook, user: CurrentUser, session: SessionDep, settings: RuntimeSettingsDep
) -> WebhookDelivery:
    """Queue a signed `webhook.test` delivery to this endpoint, whatever its events, to try
    the receiver; follow it in the delivery log.

    409 when the endpoint is disabled; 429 `rate_limited` past the caller's test pings per hour
    (`GET /usage`)."""
    await admit_and_commit(session, user.id, LimitedAction.WEBHOOK_TEST, settings)
    return await record_ping(session, endpoint.id)


@queues_a_delivery("/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/redeliver")
async def redeliver(
    endpoint: EnabledWebhook,
    delivery_id: UUID,
    user: CurrentUser,
    session: SessionDep,
    settings: RuntimeSettingsDep,
) -> WebhookDelivery:
    """Send a delivery again, failed or succeeded: the same body and `webhook-id`, now, with
    its attempts counted afresh (a receiver that was down, or mishandled it, gets it again).

    409 while it is still pending, or when the endpoint is disabled; 429 past the caller's test
    pings and redeliveries per hour (`GET /usage`)."""
    delivery = await send_again(session, endpoint.id, delivery_id)
    # Counted once queued, in its transaction: a refusal counts nothing, a 429 queues nothing.
    await admit(session, user.id, LimitedAction.WEBHOOK_TEST, settings)
    return delivery


@router.post("/{endpoint_id:uuid}/rotate-secret", responses=error_responses(404))
async def rotate_webhook_secret(
    endpoint: OwnedWebhook, session: SessionDep, settings: SettingsDep, body: RotationBody = None
) -> WebhookSecretRotated:
    """Make a new signing secret, shown in this response only. The old one still signs each
    delivery beside it for `overlap_seconds` (a day unless told), so the receiver can switch
    over without refusing a delivery; then only the new one signs."""
    overlap = timedelta(seconds=(body or WebhookSecretRotation()).overlap_seconds)
    secret = await rotate_secret(session, endpoint, settings, overlap)
    return WebhookSecretRotated(
        **WebhookPublic.model_validate(endpoint).model_dump(), secret=secret
    )
