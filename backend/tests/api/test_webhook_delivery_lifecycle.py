"""Webhook deliveries to a local receiver: signed (checked with `standardwebhooks`, as a
receiver would), sent by the delivery loop after the event's transaction, retried with backoff,
given up, and the endpoint disabled after failing again and again; a claimed delivery claimed
again after its lease, and a test ping."""

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories import WebhookDeliveryRepository
from app.services.webhooks.events import JOB_SUCCEEDED, record_event
from tests.api import ingesting, test_embed_jobs
from tests.api.conftest import Account, ClientFactory, assert_error
from tests.api.test_webhooks import LOCAL, WEBHOOKS, register
from tests.api.webhook_sending import (
    deliveries,
    make_due,
    record_one_event,
    send_due,
    sender_for,
    verified,
)
from tests.fakes import HashingEmbedder
from tests.webhook_receiver import receiver


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


async def test_an_ended_delivery_is_sent_again_on_request_with_the_same_id(
    make_client: ClientFactory, alice: Account, bob: Account, session: AsyncSession
) -> None:
    """A receiver that was down when the loop gave up gets the event once asked: the same body
    and `webhook-id`, counted against the caller's test pings; a delivery still pending, or of
    another endpoint or user, is not queued again, and its refusal is not counted."""
    sender = sender_for(session, webhook_max_attempts=1)
    async with receiver() as hooks, make_client(**LOCAL) as client:
        hooks.statuses = [503]
        endpoint = await record_one_event(hooks, client, alice, session)
        await send_due(sender)
        (failed,) = await deliveries(client, alice, endpoint["id"])
        path = f"{WEBHOOKS}/{endpoint['id']}/deliveries/{failed['id']}/redeliver"
        other = await register(client, alice, hooks.url(), ["job.succeeded"])
        elsewhere = f"{WEBHOOKS}/{other['id']}/deliveries/{failed['id']}/redeliver"

        queued = await client.post(path, headers=alice.headers)
        again = await client.post(path, headers=alice.headers)
        assert await send_due(sender) is True
        (delivered,) = await deliveries(client, alice, endpoint["id"])
        not_bobs = await client.post(path, headers=bob.headers)
        not_this_endpoints = await client.post(elsewhere, headers=alice.headers)
        usage = (await client.get("/api/v1/usage", headers=alice.headers)).json()

    assert failed["status"] == "failed"
    assert queued.status_code == 202, queued.text
    assert (queued.json()["id"], queued.json()["status"]) == (failed["id"], "pending")
    assert queued.json()["attempts"] == 0
    assert failed["last_response_code"] == 503
    # Pending afresh: the earlier sending's outcome is not shown as this one's.
    assert (queued.json()["last_response_code"], queued.json()["last_error"]) == (None, None)
    assert "pending" in assert_error(again, 409, "conflict")["message"]
    assert (delivered["status"], delivered["attempts"]) == ("succeeded", 1)
    first, resent = hooks.received
    assert resent.body == first.body
    assert resent.headers["webhook-id"] == first.headers["webhook-id"] == failed["id"]
    assert verified(resent, endpoint["secret"])["type"] == "job.succeeded"
    assert_error(not_bobs, 404, "not_found")
    assert_error(not_this_endpoints, 404, "not_found")
    assert usage["limits"]["webhook_tests_per_hour"]["used"] == 1  # the refusals count nothing


async def test_a_delivery_is_not_sent_again_past_the_limit_or_to_a_disabled_endpoint(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with receiver() as hooks, make_client(**LOCAL, limit_webhook_tests_per_hour=1) as client:
        endpoint = await register(client, alice, hooks.url(), ["job.succeeded"])
        path = f"{WEBHOOKS}/{endpoint['id']}"
        assert (await client.post(f"{path}/test", headers=alice.headers)).status_code == 202
        await send_due(sender_for(session))
        (delivered,) = await deliveries(client, alice, endpoint["id"])
        redeliver = f"{path}/deliveries/{delivered['id']}/redeliver"
        limited = await client.post(redeliver, headers=alice.headers)
        await client.patch(path, json={"enabled": False}, headers=alice.headers)
        disabled = await client.post(redeliver, headers=alice.headers)
        assert await send_due(sender_for(session)) is False
        (after,) = await deliveries(client, alice, endpoint["id"])

    assert delivered["status"] == "succeeded"
    assert_error(limited, 429, "rate_limited")
    assert "turn it on" in assert_error(disabled, 409, "conflict")["message"]
    assert (after["status"], after["attempts"]) == ("succeeded", 1)  # not queued by either
    assert len(hooks.received) == 1
