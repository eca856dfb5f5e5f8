"""Webhook deliveries to a local receiver: signed (checked with `standardwebhooks`, as a
receiver would), sent by the delivery loop after the event's transaction, retried with backoff,
given up, and the endpoint disabled after failing again and again. No redirect is followed, and
a host resolving to a loopback address is refused unless the setting allows it."""

import asyncio
import ipaddress
import logging
import shutil
import ssl
import uuid
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from app.core.config import get_settings
from app.db.repositories import WebhookDeliveryRepository
from app.services.webhooks import addresses
from app.services.webhooks.events import JOB_SUCCEEDED, record_event
from app.services.webhooks.sender import WebhookSender
from tests.api import ingesting, test_embed_jobs
from tests.api.conftest import Account, ClientFactory, assert_error, savepoint_unit_of_work
from tests.api.test_webhooks import LOCAL, WEBHOOKS, register
from tests.fakes import HashingEmbedder
from tests.webhook_receiver import (
    ReceivedRequest,
    Receiver,
    closed_port,
    receiver,
    self_signed_certificate,
    serve,
    tls_receiver,
)


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


async def test_a_signed_transcript_ready_after_an_uploads_vectors_are_in(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    sender = sender_for(session)
    async with receiver() as hooks, make_client(**LOCAL, chunk_tokens=40) as client:
        endpoint = await register(client, alice, hooks.url(), ["transcript.ready"])
        transcript_id = await test_embed_jobs.upload(client, alice)
        assert await send_due(sender) is False  # stored, but no vectors yet: nothing to tell

        await test_embed_jobs.worker_for(session, HashingEmbedder()).run_once()
        assert await send_due(sender) is True

        (request,) = hooks.received
        (delivery,) = await deliveries(client, alice, endpoint["id"])
    payload = verified(request, endpoint["secret"])
    assert payload["type"] == "transcript.ready"
    assert payload["data"] == {"transcript_id": transcript_id, "youtube_video_id": "EmbedVid001"}
    assert request.method == "POST"
    assert request.path == "/hooks"
    assert request.headers["webhook-id"] == delivery["id"]
    assert request.headers["content-type"] == "application/json"
    assert delivery["status"] == "succeeded"
    assert (delivery["attempts"], delivery["last_response_code"]) == (1, 204)
    assert delivery["delivered_at"] is not None
    assert delivery["next_attempt_at"] is None


async def test_a_signed_job_failed_after_an_ingest_fails(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with receiver() as hooks, make_client(**LOCAL) as client:
        endpoint = await register(client, alice, hooks.url())
        queued = await ingesting.ingest(client, alice)
        await ingesting.worker_for(session, ingesting.talk(status="private")).run_once()

        assert await send_due(sender_for(session)) is True

    payload = verified(hooks.received[0], endpoint["secret"])
    assert payload["type"] == "job.failed"
    data = payload["data"]
    assert data["job_id"] == queued.json()["id"]
    assert (data["kind"], data["status"], data["attempts"]) == ("youtube_ingest", "failed", 1)
    assert data["youtube_video_id"] == ingesting.VIDEO_ID
    assert data["error_code"] == "video_unavailable"
    assert "cannot be played" in data["error"]


async def test_a_signed_job_succeeded_names_the_transcript(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with receiver() as hooks, make_client(**LOCAL) as client:
        endpoint = await register(client, alice, hooks.url(), ["job.succeeded"])
        queued = await ingesting.ingest(client, alice)
        await ingesting.worker_for(session, ingesting.talk()).run_once()
        await send_due(sender_for(session))
        job = await ingesting.job(client, alice, queued.json()["id"])

    payload = verified(hooks.received[0], endpoint["secret"])
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["status"] == "done"
    assert payload["data"]["transcript_id"] == job["transcript_id"]


async def record_one_event(
    hooks: Receiver, client: httpx.AsyncClient, alice: Account, session: AsyncSession
) -> dict[str, Any]:
    endpoint = await register(client, alice, hooks.url(), ["job.succeeded"])
    await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {"job_id": "x"})
    return endpoint


async def test_a_failed_attempt_is_retried_after_a_backoff(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    sender = sender_for(session)
    async with receiver() as hooks, make_client(**LOCAL) as client:
        hooks.statuses = [500]
        endpoint = await record_one_event(hooks, client, alice, session)

        assert await send_due(sender) is True
        (waiting,) = await deliveries(client, alice, endpoint["id"])
        assert await send_due(sender) is False  # not due yet: backing off
        await make_due(session)
        assert await send_due(sender) is True
        (delivered,) = await deliveries(client, alice, endpoint["id"])
        after = (await client.get(f"{WEBHOOKS}/{endpoint['id']}", headers=alice.headers)).json()

    assert waiting["status"] == "pending"
    assert (waiting["attempts"], waiting["last_response_code"]) == (1, 500)
    assert waiting["last_error"] == "answered HTTP 500"
    assert waiting["next_attempt_at"] > waiting["created_at"]
    assert delivered["status"] == "succeeded"
    assert (delivered["attempts"], delivered["last_response_code"]) == (2, 204)
    assert delivered["last_error"] is None
    first, second = hooks.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # one message, twice
    assert verified(first, endpoint["secret"]) == verified(second, endpoint["secret"])
    assert after["consecutive_failures"] == 0


async def test_a_delivery_is_given_up_after_its_attempts(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    sender = sender_for(session, webhook_max_attempts=2)
    async with receiver() as hooks, make_client(**LOCAL) as client:
        hooks.statuses = [503, 503]
        endpoint = await record_one_event(hooks, client, alice, session)
        await send_due(sender)
        await make_due(session)
        await send_due(sender)
        await make_due(session)
        assert await send_due(sender) is False
        (failed,) = await deliveries(client, alice, endpoint["id"])

    assert failed["status"] == "failed"
    assert failed["attempts"] == 2
    assert failed["last_error"] == "answered HTTP 503 (gave up after 2 attempts)"
    assert failed["next_attempt_at"] is None
    assert len(hooks.received) == 2


async def test_an_endpoint_failing_again_and_again_is_disabled_with_the_reason(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    sender = sender_for(session, webhook_disable_after_failures=3)
    async with receiver() as hooks, make_client(**LOCAL) as client:
        hooks.statuses = [500] * 10
        endpoint = await record_one_event(hooks, client, alice, session)
        await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {"job_id": "y"})
        for _ in range(3):
            assert await send_due(sender) is True
            await make_due(session)
        assert await send_due(sender) is False
        path = f"{WEBHOOKS}/{endpoint['id']}"
        disabled = (await client.get(path, headers=alice.headers)).json()
        log = await deliveries(client, alice, endpoint["id"])
        skipped = await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {})
        enabled = await client.patch(path, json={"enabled": True}, headers=alice.headers)

    assert len(hooks.received) == 3
    assert disabled["enabled"] is False
    assert disabled["consecutive_failures"] == 3
    assert disabled["disabled_reason"] == (
        "disabled after 3 failed attempts in a row; the last: answered HTTP 500"
    )
    assert [d["status"] for d in log] == ["failed", "failed"]
    assert all(d["last_error"].endswith("the endpoint was disabled") for d in log)
    assert skipped == 0  # a disabled endpoint is not written to
    assert enabled.json()["enabled"] is True
    assert enabled.json()["disabled_reason"] is None
    assert enabled.json()["consecutive_failures"] == 0


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


async def test_a_transcript_with_nothing_to_embed_is_ready_when_stored(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with receiver() as hooks, make_client(**LOCAL, embeddings_enabled=False) as client:
        endpoint = await register(client, alice, hooks.url(), ["transcript.ready"])
        transcript_id = await test_embed_jobs.upload(client, alice)
        await send_due(sender_for(session))

    payload = verified(hooks.received[0], endpoint["secret"])
    assert payload["type"] == "transcript.ready"
    assert payload["data"]["transcript_id"] == transcript_id


async def test_a_claimed_delivery_is_claimed_again_only_after_its_lease(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with receiver() as hooks, make_client(**LOCAL) as client:
        await record_one_event(hooks, client, alice, session)
    deliveries_table = WebhookDeliveryRepository(session)
    lease = timedelta(minutes=5)

    first = await deliveries_table.claim_next(lease)  # its loop dies while sending
    assert first is not None
    assert await deliveries_table.claim_next(lease) is None  # leased
    await make_due(session)
    again = await deliveries_table.claim_next(lease)

    assert again is not None
    assert (again.id, again.attempts) == (first.id, 2)
    assert again.url == hooks.url()
    assert again.payload["type"] == "job.succeeded"


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


async def test_a_test_delivery_tries_the_receiver(
    make_client: ClientFactory, alice: Account, bob: Account, session: AsyncSession
) -> None:
    async with receiver() as hooks, make_client(**LOCAL) as client:
        endpoint = await register(client, alice, hooks.url(), ["transcript.ready"])
        path = f"{WEBHOOKS}/{endpoint['id']}"
        queued = await client.post(f"{path}/test", headers=alice.headers)
        assert_error(await client.post(f"{path}/test", headers=bob.headers), 404, "not_found")
        await send_due(sender_for(session))
        (delivered,) = await deliveries(client, alice, endpoint["id"])
        await client.patch(path, json={"enabled": False}, headers=alice.headers)
        off = await client.post(f"{path}/test", headers=alice.headers)

    assert queued.status_code == 202, queued.text
    assert (queued.json()["status"], queued.json()["event_type"]) == ("pending", "webhook.test")
    assert delivered["id"] == queued.json()["id"]
    assert delivered["status"] == "succeeded"
    payload = verified(hooks.received[0], endpoint["secret"])
    assert payload["type"] == "webhook.test"
    assert payload["data"] == {"endpoint_id": endpoint["id"]}
    assert "turn it on" in assert_error(off, 409, "conflict")["message"]


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
