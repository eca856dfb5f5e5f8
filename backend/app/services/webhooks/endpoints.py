"""Registering and changing webhook endpoints: the URL rules, and the secret made once and
rotated on request."""

from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.security import new_webhook_secret
from app.db.models import WebhookEndpoint
from app.db.repositories import WebhookDeliveryRepository, WebhookEndpointRepository
from app.services.webhooks.addresses import AddressRefusedError, checked_target, url_form_problem
from app.services.webhooks.secrets import SecretUnreadableError, WebhookSecrets, webhook_secrets


class WebhookUrlError(ValueError):
    """The URL may not be registered; the message says why."""


class TooManyEndpointsError(Exception):
    pass


def url_problem(url: str, settings: Settings) -> str | None:
    """What the settings find wrong with the URL's form (scheme, port, …), or None."""
    return url_form_problem(
        url, allow_http=settings.webhook_allow_http, allowed_ports=settings.webhook_allowed_ports
    )


async def check_url(url: str, settings: Settings) -> None:
    """WebhookUrlError unless the URL has an allowed form and its host resolves to addresses a
    delivery may reach (both checked again before each delivery: settings and addresses change)."""
    problem = url_problem(url, settings)
    if problem is not None:
        raise WebhookUrlError(problem)
    try:
        await checked_target(
            url,
            allow_private=settings.webhook_allow_private_addresses,
            lookup_seconds=settings.webhook_connect_timeout_seconds,
        )
    except AddressRefusedError as error:
        raise WebhookUrlError(f"cannot be delivered to: {error}") from error


async def register_endpoint(
    session: AsyncSession, user_id: UUID, url: str, events: Sequence[str], settings: Settings
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret, which is returned here and never shown again (it is
    stored encrypted)."""
    endpoints = WebhookEndpointRepository(session)
    await endpoints.lock_registrations(user_id)
    if await endpoints.count_by_user(user_id) >= settings.webhook_max_endpoints_per_user:
        raise TooManyEndpointsError(
            f"an account has at most {settings.webhook_max_endpoints_per_user} webhook endpoints"
        )
    await check_url(url, settings)
    secret = new_webhook_secret()
    stored = webhook_secrets(settings).encrypt(secret)
    endpoint = await endpoints.create(user_id=user_id, url=url, events=events, secret=stored)
    return endpoint, secret


async def change_endpoint(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    settings: Settings,
    *,
    url: str | None,
    events: Sequence[str] | None,
    enabled: bool | None,
) -> WebhookEndpoint:
    """Apply the given changes; turning an endpoint off gives up its pending deliveries."""
    endpoints = WebhookEndpointRepository(session)
    if url is not None:
        await check_url(url, settings)
        endpoint.url = url
    if events is not None:
        endpoint.events = list(events)
    if enabled is True and not endpoint.enabled:
        await endpoints.enable(endpoint)
    elif enabled is False and endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason = False, "turned off by its owner"
        await WebhookDeliveryRepository(session).fail_pending_of(
            endpoint.id, "not sent: the endpoint was turned off"
        )
    await endpoints.flush()
    return endpoint


async def rotate_secret(
    session: AsyncSession, endpoint: WebhookEndpoint, settings: Settings, overlap: timedelta
) -> str:
    """A new secret for the endpoint, returned here and never shown again. The one it replaces
    still signs beside it for `overlap` (not at all when zero); one kept from an earlier
    rotation is dropped."""
    secrets = webhook_secrets(settings)
    secret = new_webhook_secret()
    # Locked: of two rotations at once, the second keeps the first's secret as the one it
    # replaces, instead of both keeping the old one and the first's, returned, never signing.
    endpoint = await WebhookEndpointRepository(session).lock(endpoint.id)
    previous = kept_secret(secrets, endpoint.secret) if overlap else None
    await WebhookEndpointRepository(session).replace_secret(
        endpoint, secrets.encrypt(secret), previous, overlap
    )
    return secret


def kept_secret(secrets: WebhookSecrets, stored: str) -> str | None:
    """The secret being replaced, encrypted with the first key (it may be in clear, or under an
    older key); None when no key reads it: it could not sign anyway."""
    try:
        return secrets.reencrypted(stored) or stored
    except SecretUnreadableError:
        return None
