"""Webhook endpoints through the API: registering, the secret shown once, the URL and event
rules, changes, owners, and the delivery log."""

import uuid
from typing import Any, get_args

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.schemas.webhooks import WebhookEvent
from app.db.models import WEBHOOK_EVENTS
from app.services.webhooks.events import JOB_SUCCEEDED, record_event
from tests.api.conftest import Account, ClientFactory, assert_error
from tests.webhook_receiver import RECEIVER_PORTS

WEBHOOKS = "/api/v1/webhooks"
# The settings a test needs to register a local receiver (or ports 9 and 10, where nothing is
# ever sent).
LOCAL = {
    "webhook_allow_http": True,
    "webhook_allow_private_addresses": True,
    "webhook_allowed_ports": [9, 10, *RECEIVER_PORTS],
}


async def register(
    client: httpx.AsyncClient,
    account: Account,
    url: str = "http://127.0.0.1:9/hooks",
    events: list[str] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        WEBHOOKS,
        json={"url": url, "events": events or ["job.succeeded", "job.failed"]},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_secret_is_shown_once(make_client: ClientFactory, alice: Account) -> None:
    async with make_client(**LOCAL) as client:
        created = await register(client, alice)
        one = await client.get(f"{WEBHOOKS}/{created['id']}", headers=alice.headers)
        listed = await client.get(WEBHOOKS, headers=alice.headers)

    assert created["secret"].startswith("whsec_")
    assert len(created["secret"]) > 40
    assert created["enabled"] is True
    assert created["disabled_reason"] is None
    assert created["events"] == ["job.succeeded", "job.failed"]
    assert one.status_code == 200
    assert "secret" not in one.json()
    assert created["secret"] not in one.text
    assert listed.json()["total"] == 1
    assert created["secret"] not in listed.text


async def test_one_endpoint_may_take_every_event(
    make_client: ClientFactory, alice: Account
) -> None:
    """The schema's list of events is the models' one, and all of them fit on one endpoint."""
    assert set(get_args(WebhookEvent)) == set(WEBHOOK_EVENTS)
    async with make_client(**LOCAL) as client:
        created = await client.post(
            WEBHOOKS,
            json={"url": "http://127.0.0.1:9/", "events": list(WEBHOOK_EVENTS)},
            headers=alice.headers,
        )

    assert created.status_code == 201, created.text
    assert created.json()["events"] == list(WEBHOOK_EVENTS)


async def test_events_come_from_the_fixed_list(make_client: ClientFactory, alice: Account) -> None:
    async with make_client(**LOCAL) as client:
        unknown = await client.post(
            WEBHOOKS,
            json={"url": "http://127.0.0.1:9/", "events": ["job.succeeded", "video.liked"]},
            headers=alice.headers,
        )
        none = await client.post(
            WEBHOOKS, json={"url": "http://127.0.0.1:9/", "events": []}, headers=alice.headers
        )
        twice = await client.post(
            WEBHOOKS,
            json={"url": "http://127.0.0.1:9/", "events": ["job.failed", "job.failed"]},
            headers=alice.headers,
        )

    fields = [
        [d["field"] for d in assert_error(r, 422, "validation_error")["details"]]
        for r in (unknown, none, twice)
    ]
    assert fields == [["body.events.1"], ["body.events"], ["body.events"]]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://example.com/hooks", "must start with https://"),
        ("ftp://example.com/hooks", "must start with https://"),
        ("https://user:secret@example.com/", "user name or password"),
        ("https://example.com/#x", "fragment"),
        ("https://localhost/hooks", "localhost resolves to a non-public address (loopback)"),
        ("https://127.0.0.1/hooks", "a non-public address (loopback)"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://10.1.2.3/hooks", "private"),
        ("https://[::1]/hooks", "loopback"),
        ("https://no-such-host.invalid/hooks", "could not be resolved"),
        ("https://example.com:8443/hooks", "must use port 443 or 80, not 8443"),
        ("https://93.184.215.14:22/", "must use port 443 or 80, not 22"),
    ],
)
async def test_urls_that_may_not_be_reached_are_refused_by_default(
    client: httpx.AsyncClient, alice: Account, url: str, words: str
) -> None:
    response = await client.post(
        WEBHOOKS, json={"url": url, "events": ["job.failed"]}, headers=alice.headers
    )

    error = assert_error(response, 422, "validation_error")
    assert [d["field"] for d in error["details"]] == ["body.url"]
    assert words in error["message"]
    assert "Errno" not in error["message"]  # the system's words are not the owner's
    if "localhost" in url:  # a refusal names no address a name resolved to
        assert "127.0.0.1" not in error["message"]
        assert "::1" not in error["message"]


async def test_a_local_receiver_is_allowed_only_by_the_setting(
    make_client: ClientFactory, alice: Account
) -> None:
    local_but_private = {**LOCAL, "webhook_allow_private_addresses": False}
    async with make_client(**local_but_private) as client:
        refused = await client.post(
            WEBHOOKS,
            json={"url": "http://localhost:9/hooks", "events": ["job.failed"]},
            headers=alice.headers,
        )
    assert "(loopback)" in assert_error(refused, 422, "validation_error")["message"]
    async with make_client(**LOCAL) as client:
        await register(client, alice, "http://localhost:9/hooks")


async def test_other_ports_are_allowed_only_by_the_setting(
    make_client: ClientFactory, alice: Account
) -> None:
    async with make_client(webhook_allowed_ports=[443, 8443]) as client:
        allowed = await client.post(
            WEBHOOKS,
            json={"url": "https://93.184.215.14:8443/hooks", "events": ["job.failed"]},
            headers=alice.headers,
        )
        default_port = await client.post(
            WEBHOOKS,
            json={"url": "https://93.184.215.14/hooks", "events": ["job.failed"]},
            headers=alice.headers,
        )
        http_default = await client.post(
            WEBHOOKS,
            json={"url": "https://93.184.215.14:80/hooks", "events": ["job.failed"]},
            headers=alice.headers,
        )

    assert allowed.status_code == 201, allowed.text
    assert default_port.status_code == 201, default_port.text  # https without a port: 443
    error = assert_error(http_default, 422, "validation_error")
    assert [d["field"] for d in error["details"]] == ["body.url"]
    assert error["message"] == "url must use port 443 or 8443, not 80"


async def test_changing_an_endpoint(make_client: ClientFactory, alice: Account) -> None:
    async with make_client(**LOCAL) as client:
        created = await register(client, alice)
        path = f"{WEBHOOKS}/{created['id']}"
        changed = await client.patch(
            path,
            json={"url": "http://127.0.0.1:10/new", "events": ["transcript.ready"]},
            headers=alice.headers,
        )
        off = await client.patch(path, json={"enabled": False}, headers=alice.headers)
        on = await client.patch(path, json={"enabled": True}, headers=alice.headers)
        bad = await client.patch(path, json={"url": "https://[::1"}, headers=alice.headers)

    assert changed.status_code == 200, changed.text
    assert changed.json()["url"] == "http://127.0.0.1:10/new"
    assert changed.json()["events"] == ["transcript.ready"]
    assert "secret" not in changed.json()
    assert (off.json()["enabled"], off.json()["disabled_reason"]) == (
        False,
        "turned off by its owner",
    )
    assert (on.json()["enabled"], on.json()["disabled_reason"]) == (True, None)
    assert [d["field"] for d in assert_error(bad, 422, "validation_error")["details"]] == [
        "body.url"
    ]


async def test_another_users_endpoint_is_not_found(
    make_client: ClientFactory, alice: Account, bob: Account
) -> None:
    async with make_client(**LOCAL) as client:
        path = f"{WEBHOOKS}/{(await register(client, alice))['id']}"
        answers = [
            await client.get(path, headers=bob.headers),
            await client.patch(path, json={"enabled": False}, headers=bob.headers),
            await client.get(f"{path}/deliveries", headers=bob.headers),
            await client.post(f"{path}/rotate-secret", headers=bob.headers),
            await client.delete(path, headers=bob.headers),
        ]
        theirs = await client.get(WEBHOOKS, headers=bob.headers)
        still = await client.get(path, headers=alice.headers)

    for answer in answers:
        assert_error(answer, 404, "not_found")
    assert theirs.json()["total"] == 0
    assert still.json()["enabled"] is True


async def test_deleting_an_endpoint(make_client: ClientFactory, alice: Account) -> None:
    async with make_client(**LOCAL) as client:
        path = f"{WEBHOOKS}/{(await register(client, alice))['id']}"
        deleted = await client.delete(path, headers=alice.headers)
        gone = await client.get(path, headers=alice.headers)

    assert deleted.status_code == 204
    assert_error(gone, 404, "not_found")


async def test_the_number_of_endpoints_is_limited(
    make_client: ClientFactory, alice: Account
) -> None:
    async with make_client(**LOCAL, webhook_max_endpoints_per_user=2) as client:
        await register(client, alice)
        await register(client, alice)
        third = await client.post(
            WEBHOOKS,
            json={"url": "http://127.0.0.1:9/", "events": ["job.failed"]},
            headers=alice.headers,
        )

    assert "at most 2" in assert_error(third, 409, "conflict")["message"]


async def test_deliveries_are_listed_newest_first_for_subscribed_events_only(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with make_client(**LOCAL) as client:
        created = await register(client, alice, events=["job.succeeded"])
        user_id = uuid.UUID(alice.id)
        for n in range(3):
            await record_event(session, user_id, JOB_SUCCEEDED, {"n": n})
        assert await record_event(session, user_id, "job.failed", {"n": 9}) == 0
        page = await client.get(
            f"{WEBHOOKS}/{created['id']}/deliveries",
            params={"limit": 2},
            headers=alice.headers,
        )

    assert page.status_code == 200, page.text
    body = page.json()
    assert body["total"] == 3
    assert [item["payload"]["data"]["n"] for item in body["items"]] == [2, 1]
    first = body["items"][0]
    assert first["status"] == "pending"
    assert first["attempts"] == 0
    assert first["event_type"] == "job.succeeded"
    assert first["payload"]["type"] == "job.succeeded"
    assert first["next_attempt_at"] is not None


async def test_each_endpoint_listening_for_an_event_gets_a_delivery_of_its_own(
    make_client: ClientFactory, alice: Account, session: AsyncSession
) -> None:
    async with make_client(**LOCAL) as client:
        endpoints = [
            await register(client, alice, f"http://127.0.0.1:{port}/hooks", ["job.succeeded"])
            for port in (9, 10)
        ]
        recorded = await record_event(session, uuid.UUID(alice.id), JOB_SUCCEEDED, {"n": 1})
        logs = [
            (await client.get(f"{WEBHOOKS}/{e['id']}/deliveries", headers=alice.headers)).json()
            for e in endpoints
        ]

    assert recorded == 2
    (first,), (second,) = (log["items"] for log in logs)
    assert first["id"] != second["id"]
    assert first["payload"] == second["payload"]
