"""Registrations of one user's webhook endpoints made at once, on real, separately committed
connections: they take turns counting, so together they cannot pass the limit."""

import asyncio

from app.core.config import get_settings
from app.db.models import User, WebhookEndpoint
from app.db.repositories import WebhookEndpointRepository
from app.db.session import Database
from app.services.webhooks.endpoints import TooManyEndpointsError, register_endpoint

LIMIT = 2
SETTINGS = get_settings().model_copy(
    update={
        "webhook_allow_http": True,
        "webhook_allow_private_addresses": True,
        "webhook_allowed_ports": [9],
        "webhook_max_endpoints_per_user": LIMIT,
    }
)


async def test_registrations_at_once_cannot_pass_the_limit(
    database: Database, committed_user: User
) -> None:
    async def register(number: int) -> bool:
        try:
            async with database.unit_of_work() as session:
                await register_endpoint(
                    session,
                    committed_user.id,
                    f"http://127.0.0.1:9/{number}",
                    ["job.failed"],
                    SETTINGS,
                )
        except TooManyEndpointsError:
            return False
        return True

    registered = await asyncio.wait_for(asyncio.gather(*map(register, range(6))), timeout=30)

    assert sum(registered) == LIMIT
    async with database.read_only() as session:
        assert (
            await WebhookEndpointRepository(session).count(
                WebhookEndpoint.user_id == committed_user.id
            )
            == LIMIT
        )
