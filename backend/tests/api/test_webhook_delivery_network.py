"""Where a webhook delivery may go and how it fails on the way: no redirect is followed, a host
resolving to a loopback address is refused unless the setting allows it, a port no longer
allowed is not sent to, the request connects to the addresses that were checked (TLS checked
against the name), and an unreachable, silent or slow endpoint is retried, saying no more than
"could not connect" or "timed out"."""

import asyncio
import ipaddress
import logging
import shutil
import ssl
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.webhooks import addresses
from app.services.webhooks.events import JOB_SUCCEEDED, record_event
from app.services.webhooks.sender import WebhookSender
from tests.api.conftest import Account, ClientFactory
from tests.api.test_webhooks import LOCAL, WEBHOOKS, register
from tests.api.webhook_sending import (
    deliveries,
    make_due,
    record_one_event,
    send_due,
    sender_for,
    verified,
)
from tests.webhook_receiver import (
    closed_port,
    receiver,
    self_signed_certificate,
    serve,
    tls_receiver,
)


async def test_a_redirect_is_not_followed(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with receiver() as hooks, make_client(**LOCAL) as client:
        hooks.statuses = [302]
        endpoint = await record_one_event(hooks, client, alice, session)
        await send_due(sender_for(session))
        (delivery,) = await deliveries(client, alice, endpoint["id"])

    assert [request.path for request in hooks.received] == ["/hooks"]
    assert delivery["status"] == "pending"
    assert delivery["last_response_code"] == 302
    assert delivery["last_error"] == (
        f"answered HTTP 302 to {hooks.url('/elsewhere')}; redirects are not followed"
    )


async def test_a_host_resolving_to_loopback_is_refused_when_sending(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with receiver() as hooks, make_client(**LOCAL) as client:
        url = f"http://localhost:{hooks.port}/hooks"
        endpoint = await register(client, alice, url, ["job.succeeded"])
        await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {})
        await send_due(sender_for(session, webhook_allow_private_addresses=False))
        (refused,) = await deliveries(client, alice, endpoint["id"])
        assert hooks.received == []

        await make_due(session)
        await send_due(sender_for(session))  # allowed: sent to the checked address by name
        (delivered,) = await deliveries(client, alice, endpoint["id"])

    assert refused["status"] == "pending"
    assert refused["last_response_code"] is None
    # 127.0.0.1 or ::1, whichever the resolver names first
    assert refused["last_error"] == (
        "not sent: localhost resolves to a non-public address (loopback)"
    )
    assert delivered["status"] == "succeeded"
    (request,) = hooks.received
    assert request.headers["host"] == f"localhost:{hooks.port}"
    verified(request, endpoint["secret"])


async def test_a_port_no_longer_allowed_is_not_sent_to(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with receiver() as hooks, make_client(**LOCAL) as client:
        endpoint = await record_one_event(hooks, client, alice, session)
        await send_due(sender_for(session, webhook_allowed_ports=[443, 80]))
        (refused,) = await deliveries(client, alice, endpoint["id"])
        assert hooks.received == []

        await make_due(session)
        await send_due(sender_for(session))
        (delivered,) = await deliveries(client, alice, endpoint["id"])

    assert refused["status"] == "pending"
    assert refused["last_error"] == f"not sent: the URL must use port 443 or 80, not {hooks.port}"
    assert delivered["status"] == "succeeded"


async def test_an_endpoint_that_cannot_be_reached_is_retried(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    with closed_port() as port:
        async with make_client(**LOCAL) as client:
            url = f"http://127.0.0.1:{port}/hooks"
            endpoint = await register(client, alice, url, ["job.succeeded"])
            await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {})
            await send_due(sender_for(session))
            (delivery,) = await deliveries(client, alice, endpoint["id"])

    assert delivery["status"] == "pending"
    assert delivery["last_error"] == "could not connect"


async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def test_a_closed_port_and_an_open_one_fail_alike_without_detail(
    make_client: ClientFactory,
    alice: Account,
    session: AsyncSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Whoever registers URLs learns nothing about what listens where: a refused connection and
    one closed without an answer read the same, without the address, the port or the system's
    words ("[Errno 111] Connect call failed ('127.0.0.1', 28105)"), in the delivery log, the
    test ping's delivery and the log lines at INFO and above."""
    caplog.set_level(logging.DEBUG, logger="app.services.webhooks")
    with closed_port() as refusing:
        open_server = await serve(close_at_once)
        accepting = open_server.sockets[0].getsockname()[1]
        async with make_client(**LOCAL) as client:
            ids = [
                (await register(client, alice, f"http://127.0.0.1:{port}/hooks"))["id"]
                for port in (refusing, accepting)
            ]
            for endpoint_id in ids:
                queued = await client.post(f"{WEBHOOKS}/{endpoint_id}/test", headers=alice.headers)
                assert queued.status_code == 202, queued.text
            sender = sender_for(session, webhook_disable_after_failures=1)
            assert await send_due(sender)
            assert await send_due(sender)
            logs = [await deliveries(client, alice, endpoint_id) for endpoint_id in ids]
            endpoints = [
                (await client.get(f"{WEBHOOKS}/{endpoint_id}", headers=alice.headers)).json()
                for endpoint_id in ids
            ]
        open_server.close()

    errors = [log[0]["last_error"] for log in logs]
    assert errors == ["could not connect; not sent again: the endpoint was disabled"] * 2
    reasons = [endpoint["disabled_reason"] for endpoint in endpoints]
    assert reasons == ["disabled after 1 failed attempts in a row; the last: could not connect"] * 2
    told = [*errors, *reasons]
    told += [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    for words in told:
        for detail in (str(refusing), str(accepting), "127.0.0.1", "Errno", "refused"):
            assert detail not in words, words


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_https_goes_to_the_checked_address_with_the_name_for_tls(
    make_client: ClientFactory, alice: Account, session: AsyncSession, tmp_path: Path
) -> None:
    certificate, key = self_signed_certificate(tmp_path, "localhost")
    trusted = ssl.create_default_context(cafile=str(certificate))
    sender = WebhookSender(sender_for(session).unit_of_work, sender_for(session).settings, trusted)
    async with tls_receiver(certificate, key) as hooks, make_client(**LOCAL) as client:
        url = f"https://localhost:{hooks.port}/hooks"
        endpoint = await register(client, alice, url, ["job.succeeded"])
        await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {})
        await send_due(sender)
        (delivery,) = await deliveries(client, alice, endpoint["id"])

    # Connected to a resolved address, yet the certificate was checked against "localhost".
    assert delivery["status"] == "succeeded", delivery["last_error"]
    (request,) = hooks.received
    assert request.headers["host"] == f"localhost:{hooks.port}"
    verified(request, endpoint["secret"])


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_a_certificate_for_another_name_is_refused(
    make_client: ClientFactory, alice: Account, session: AsyncSession, tmp_path: Path
) -> None:
    certificate, key = self_signed_certificate(tmp_path, "example.com")
    trusted = ssl.create_default_context(cafile=str(certificate))
    sender = WebhookSender(sender_for(session).unit_of_work, sender_for(session).settings, trusted)
    async with tls_receiver(certificate, key) as hooks, make_client(**LOCAL) as client:
        endpoint = await register(
            client, alice, f"https://localhost:{hooks.port}/hooks", ["job.succeeded"]
        )
        await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {})
        await send_due(sender)
        (delivery,) = await deliveries(client, alice, endpoint["id"])

    assert delivery["status"] == "pending"
    assert delivery["last_error"] == "TLS failed: the certificate was not accepted"
    assert hooks.received == []


async def test_an_endpoint_too_slow_to_answer_is_retried(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with receiver() as hooks, make_client(**LOCAL) as client:
        hooks.answer_after = 2.0
        endpoint = await record_one_event(hooks, client, alice, session)
        await send_due(sender_for(session, webhook_read_timeout_seconds=0.2))
        (delivery,) = await deliveries(client, alice, endpoint["id"])

    assert delivery["status"] == "pending"
    assert delivery["last_error"] == "timed out (ReadTimeout)"
    assert delivery["last_response_code"] is None


async def test_the_request_goes_to_the_addresses_that_were_checked(
    make_client: ClientFactory,
    alice: Account,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name is looked up once per attempt, and the request connects to what that lookup
    returned, in turn (127.0.0.2 has no listener here), keeping the name in Host."""
    lookups: list[str] = []

    async def resolve(host: str, port: int, lookup_seconds: float) -> list[Any]:
        lookups.append(host)
        return [ipaddress.ip_address("127.0.0.2"), ipaddress.ip_address("127.0.0.1")]

    async with receiver() as hooks, make_client(**LOCAL) as client:
        endpoint = await register(client, alice, hooks.url(), ["job.succeeded"])
        path = f"{WEBHOOKS}/{endpoint['id']}"
        moved = await client.patch(
            path, json={"url": f"http://hooks.test:{hooks.port}/in"}, headers=alice.headers
        )
        assert moved.status_code == 422  # hooks.test resolves to nothing yet
        monkeypatch.setattr(addresses, "resolve", resolve)
        moved = await client.patch(
            path, json={"url": f"http://hooks.test:{hooks.port}/in"}, headers=alice.headers
        )
        assert moved.status_code == 200, moved.text
        await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {})
        refused = sender_for(session, webhook_allow_private_addresses=False)
        await send_due(refused)
        (not_sent,) = await deliveries(client, alice, endpoint["id"])
        await make_due(session)
        await send_due(sender_for(session))
        (sent,) = await deliveries(client, alice, endpoint["id"])

    assert not_sent["last_error"] == (
        "not sent: hooks.test resolves to a non-public address (loopback)"
    )
    assert sent["status"] == "succeeded", sent["last_error"]
    (request,) = hooks.received
    assert (request.path, request.headers["host"]) == ("/in", f"hooks.test:{hooks.port}")
    assert lookups == ["hooks.test"] * 3  # the PATCH, then one per attempt


async def test_an_attempt_has_a_deadline_of_its_own(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    sender = sender_for(session, webhook_read_timeout_seconds=5)
    sender.attempt_seconds = 0.2  # shorter than the wait for the answer, not than one read
    async with receiver() as hooks, make_client(**LOCAL) as client:
        hooks.answer_after = 2.0
        endpoint = await record_one_event(hooks, client, alice, session)
        await send_due(sender)
        (delivery,) = await deliveries(client, alice, endpoint["id"])

    assert delivery["status"] == "pending"
    assert delivery["last_error"] == "timed out (no answer within 0.2 s)"
