"""Webhook secrets at rest: stored encrypted, never returned after creation, read just before
signing; the key rotated with `python -m app.cli encrypt-webhook-secrets`."""

import io
import uuid
from contextlib import asynccontextmanager
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app import cli
from app.core.config import get_settings
from app.services.webhooks.events import JOB_SUCCEEDED, record_event
from app.services.webhooks.secrets import SecretUnreadableError, WebhookSecrets
from tests.api.conftest import Account, ClientFactory, savepoint_unit_of_work
from tests.api.test_webhook_deliveries import deliveries, send_due, sender_for, verified
from tests.api.test_webhooks import LOCAL, WEBHOOKS, register
from tests.webhook_receiver import receiver

OLDER_SECRET = "whsec_" + "A" * 43 + "="


async def stored_row(session: AsyncSession, endpoint_id: str) -> Any:
    """The endpoint's row as PostgreSQL holds it, and as one JSON text."""
    result = await session.execute(
        text(
            "SELECT secret, previous_secret, row_to_json(e)::text AS everything "
            "FROM webhook_endpoints e WHERE id = :id"
        ),
        {"id": endpoint_id},
    )
    return result.one()


def keys(*keys: bytes) -> dict[str, Any]:
    """Settings overrides: these keys, the first encrypting."""
    return {"webhook_secret_keys": [SecretStr(key.decode()) for key in keys]}


def current_key() -> bytes:
    return get_settings().webhook_secret_keys[0].get_secret_value().encode()


async def test_the_secret_is_stored_encrypted_and_never_returned(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with make_client(**LOCAL) as client:
        created = await register(client, alice)
        answers = [
            await client.get(f"{WEBHOOKS}/{created['id']}", headers=alice.headers),
            await client.get(WEBHOOKS, headers=alice.headers),
            await client.patch(
                f"{WEBHOOKS}/{created['id']}", json={"enabled": True}, headers=alice.headers
            ),
        ]
    row = await stored_row(session, created["id"])

    assert "whsec_" not in row.everything
    assert created["secret"].removeprefix("whsec_") not in row.everything
    assert WebhookSecrets([current_key()]).decrypt(row.secret) == created["secret"]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert row.secret not in answer.text
        assert created["secret"] not in answer.text


async def test_a_secret_the_keys_cannot_read_is_not_sent_with(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with receiver() as hooks, make_client(**LOCAL) as client:
        endpoint = await register(client, alice, hooks.url(), ["job.succeeded"])
        await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {})
        await send_due(sender_for(session, **keys(Fernet.generate_key())))
        (delivery,) = await deliveries(client, alice, endpoint["id"])

    assert hooks.received == []
    assert delivery["status"] == "pending"
    assert delivery["last_error"] == "not sent: the server cannot read the endpoint's secret"


async def encrypt_with(overrides: dict[str, Any], session: AsyncSession) -> int:
    """`python -m app.cli encrypt-webhook-secrets` on the test's session, a row per batch."""
    settings = get_settings().model_copy(update=overrides)
    unit_of_work = asynccontextmanager(savepoint_unit_of_work(session))
    console = Console(file=io.StringIO())
    return await cli.encrypt_webhook_secrets(settings, unit_of_work, console, batch_size=1)


async def test_the_key_is_rotated_with_the_command(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    old_key, new_key = current_key(), Fernet.generate_key()
    async with receiver() as hooks, make_client(**LOCAL) as client:
        encrypted = await register(client, alice, hooks.url("/a"), ["job.succeeded"])
        legacy = await register(client, alice, hooks.url("/b"), ["job.succeeded"])
        await session.execute(  # as written before secrets were encrypted: in clear
            text(
                "UPDATE webhook_endpoints SET secret = :legacy, previous_secret = :previous, "
                "previous_secret_expires_at = now() + interval '1 hour' WHERE id = :id"
            ),
            {"legacy": legacy["secret"], "previous": OLDER_SECRET, "id": legacy["id"]},
        )

        changed = await encrypt_with(keys(new_key, old_key), session)
        again = await encrypt_with(keys(new_key, old_key), session)
        rows = [await stored_row(session, e["id"]) for e in (encrypted, legacy)]

        await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {})
        sender = sender_for(session, **keys(new_key))  # the old key dropped
        assert await send_due(sender)
        assert await send_due(sender)

    assert (changed, again) == (2, 0)  # both rows once; a second run changes nothing
    assert all("whsec_" not in row.everything for row in rows)
    new_only, old_only = WebhookSecrets([new_key]), WebhookSecrets([old_key])
    assert new_only.decrypt(rows[0].secret) == encrypted["secret"]
    assert new_only.decrypt(rows[1].secret) == legacy["secret"]
    assert new_only.decrypt(rows[1].previous_secret) == OLDER_SECRET
    for stored in (rows[0].secret, rows[1].secret):
        with pytest.raises(SecretUnreadableError):
            old_only.decrypt(stored)
    by_path = {request.path: request for request in hooks.received}
    verified(by_path["/a"], encrypted["secret"])
    verified(by_path["/b"], legacy["secret"])
