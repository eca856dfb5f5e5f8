"""Webhook secrets: stored encrypted, never returned after creation, read just before signing;
the key rotated with `python -m app.cli encrypt-webhook-secrets`; an endpoint's secret rotated
with the old one still signing beside it for a while."""

import asyncio
import io
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook, WebhookVerificationError

from app import cli
from app.core.config import get_settings
from app.db.repositories import WebhookEndpointRepository
from app.db.session import Database
from app.services.webhooks.events import JOB_SUCCEEDED, record_event
from app.services.webhooks.secrets import SecretUnreadableError, WebhookSecrets, webhook_secrets
from tests.api.conftest import (
    Account,
    ClientFactory,
    assert_error,
    savepoint_unit_of_work,
    signed_up_on_the_database,
)
from tests.api.test_webhooks import LOCAL, WEBHOOKS, register
from tests.api.webhook_sending import deliveries, send_due, sender_for, verified
from tests.webhook_receiver import ReceivedRequest, receiver

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


def signatures_of(request: ReceivedRequest) -> list[str]:
    return request.headers["webhook-signature"].split(" ")


def signature_by(secret: str, request: ReceivedRequest) -> str:
    """The signature `secret` gives the request, as the sender computes it."""
    sent_at = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
    return Webhook(secret).sign(request.headers["webhook-id"], sent_at, request.body.decode())


async def end_overlap(session: AsyncSession, endpoint_id: str) -> None:
    await session.execute(
        text(
            "UPDATE webhook_endpoints SET previous_secret_expires_at = "
            "clock_timestamp() - interval '1 second' WHERE id = :id"
        ),
        {"id": endpoint_id},
    )


async def test_a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with receiver() as hooks, make_client(**LOCAL) as client:
        endpoint = await register(client, alice, hooks.url(), ["job.succeeded"])
        path = f"{WEBHOOKS}/{endpoint['id']}"
        rotated = await client.post(f"{path}/rotate-secret", headers=alice.headers)
        shown = await client.get(path, headers=alice.headers)
        row = await stored_row(session, endpoint["id"])
        await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {"n": 1})
        assert await send_due(sender_for(session))
        await end_overlap(session, endpoint["id"])
        await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {"n": 2})
        assert await send_due(sender_for(session))

    assert rotated.status_code == 200, rotated.text
    old, new = endpoint["secret"], rotated.json()["secret"]
    assert new.startswith("whsec_")
    assert new != old
    until = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
    assert abs(until - datetime.now(UTC) - timedelta(days=1)) < timedelta(minutes=1)
    assert "secret" not in shown.json()
    assert (
        shown.json()["previous_secret_expires_at"] == rotated.json()["previous_secret_expires_at"]
    )
    assert "whsec_" not in row.everything  # the kept secret is encrypted too
    during, after = hooks.received
    assert signatures_of(during) == [signature_by(new, during), signature_by(old, during)]
    assert verified(during, new) == verified(during, old)  # either secret verifies it
    assert signatures_of(after) == [signature_by(new, after)]
    verified(after, new)
    with pytest.raises(WebhookVerificationError):
        verified(after, old)


async def test_a_rotation_without_overlap_ends_the_old_secret_at_once(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with receiver() as hooks, make_client(**LOCAL) as client:
        endpoint = await register(client, alice, hooks.url(), ["job.succeeded"])
        rotated = await client.post(
            f"{WEBHOOKS}/{endpoint['id']}/rotate-secret",
            json={"overlap_seconds": 0},
            headers=alice.headers,
        )
        row = await stored_row(session, endpoint["id"])
        await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {})
        assert await send_due(sender_for(session))

    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["previous_secret_expires_at"] is None
    assert row.previous_secret is None
    (request,) = hooks.received
    assert signatures_of(request) == [signature_by(rotated.json()["secret"], request)]


async def test_the_overlap_is_at_most_a_week(make_client: ClientFactory, alice: Account) -> None:
    async with make_client(**LOCAL) as client:
        path = f"{WEBHOOKS}/{(await register(client, alice))['id']}/rotate-secret"
        answers = [
            await client.post(path, json={"overlap_seconds": seconds}, headers=alice.headers)
            for seconds in (-1, 7 * 86400 + 1, "soon", 7 * 86400)
        ]

    *refused, week = answers
    for answer in refused:
        error = assert_error(answer, 422, "validation_error")
        assert [d["field"] for d in error["details"]] == ["body.overlap_seconds"]
    assert week.status_code == 200, week.text


async def test_a_previous_secret_is_forgotten_once_its_overlap_is_over(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with make_client(**LOCAL) as client:
        ended, running = [await register(client, alice) for _ in range(2)]
        for endpoint in (ended, running):
            rotated = await client.post(
                f"{WEBHOOKS}/{endpoint['id']}/rotate-secret", headers=alice.headers
            )
            assert rotated.status_code == 200, rotated.text
        await end_overlap(session, ended["id"])

        forgotten = await WebhookEndpointRepository(session).forget_ended_previous_secrets()
        shown = (await client.get(f"{WEBHOOKS}/{ended['id']}", headers=alice.headers)).json()
        rows = [await stored_row(session, endpoint["id"]) for endpoint in (ended, running)]

    assert forgotten == 1
    assert rows[0].previous_secret is None
    assert shown["previous_secret_expires_at"] is None
    assert rows[1].previous_secret is not None


async def test_rotations_at_once_each_return_a_secret_that_signs(database: Database) -> None:
    """On the real database, each request its own transaction: two rotations sent together
    take turns, so the second keeps the first's new secret beside its own, instead of both
    keeping the old one and the first's, returned as new, never signing."""
    async with signed_up_on_the_database(database, **LOCAL) as (client, account):
        endpoint = await register(client, account)
        path = f"{WEBHOOKS}/{endpoint['id']}/rotate-secret"
        rotations = await asyncio.gather(
            *(client.post(path, headers=account.headers) for _ in range(2))
        )
        async with database.unit_of_work() as session:
            row = await stored_row(session, endpoint["id"])

    assert [rotation.status_code for rotation in rotations] == [200, 200]
    secrets = webhook_secrets(get_settings())
    signing = {secrets.decrypt(row.secret), secrets.decrypt(row.previous_secret)}
    assert signing == {rotation.json()["secret"] for rotation in rotations}
