"""Sign-up: closable by an administrator at run time, by invitation, and throttled per address
before any password is hashed."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import hash_password
from app.db.models import Invitation
from tests.api.conftest import PASSWORD, Account, assert_error, sign_up
from tests.api.test_config import make_admin, put_setting

REGISTER = "/api/v1/auth/register"
INVITATIONS = "/api/v1/invitations"


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords the sign-up route hashed, in order."""
    hashed: list[str] = []

    async def counting(password: str) -> str:
        hashed.append(password)
        return await hash_password(password)

    monkeypatch.setattr("app.api.routes.auth.hash_password", counting)
    return hashed


def registration(email: str, **extra: Any) -> dict[str, Any]:
    return {"email": email, "password": PASSWORD, **extra}


async def test_one_address_creates_ten_accounts_an_hour_and_is_refused_before_hashing(
    lend_app: Callable[..., FastAPI], hashes: list[str]
) -> None:
    app = lend_app()
    async with client_from(app, "198.51.100.7") as crowd, client_from(app, "2001:db8::1") as other:
        accepted = [
            await crowd.post(REGISTER, json=registration(f"crowd-{n}@example.com"))
            for n in range(10)
        ]
        refused = await crowd.post(REGISTER, json=registration("crowd-10@example.com"))
        elsewhere = await other.post(REGISTER, json=registration("elsewhere@example.com"))

    assert [response.status_code for response in accepted] == [202] * 10
    assert_error(refused, 429, "too_many_requests")
    assert 3000 < int(refused.headers["Retry-After"]) <= 3600
    assert elsewhere.status_code == 202, elsewhere.text
    assert len(hashes) == 11  # ten accepted, one from the other address; none for the refused


async def test_addresses_of_one_ipv6_64_share_a_count(lend_app: Callable[..., FastAPI]) -> None:
    app = lend_app(signup_per_address_per_hour=1)
    async with (
        client_from(app, "2001:db8:0:1::1") as first,
        client_from(app, "2001:db8:0:1::ffff") as neighbour,
    ):
        taken = await first.post(REGISTER, json=registration("first@example.com"))
        refused = await neighbour.post(REGISTER, json=registration("neighbour@example.com"))

    assert taken.status_code == 202
    assert_error(refused, 429, "too_many_requests")


@pytest.fixture
async def admin(alice: Account, session: AsyncSession) -> Account:
    return await make_admin(session, alice)


async def test_an_administrator_closes_sign_up_at_run_time(
    client: httpx.AsyncClient, admin: Account, hashes: list[str]
) -> None:
    await put_setting(client, admin, "signup_mode", "closed")
    hashes.clear()

    refused = await client.post(REGISTER, json=registration("late@example.com"))
    login = await client.post(
        "/api/v1/auth/login", json={"email": "late@example.com", "password": PASSWORD}
    )

    assert_error(refused, 403, "signup_closed")
    assert hashes == []
    assert login.status_code == 401


async def invite(client: httpx.AsyncClient, admin: Account, **body: Any) -> dict[str, Any]:
    response = await client.post(INVITATIONS, json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_by_invitation_only_an_invited_person_signs_up_once(
    client: httpx.AsyncClient, admin: Account, hashes: list[str]
) -> None:
    await put_setting(client, admin, "signup_mode", "invitation")
    invitation = await invite(client, admin, email="Grace@Example.com")
    hashes.clear()

    uninvited = await client.post(REGISTER, json=registration("someone@example.com"))
    wrong_email = await client.post(
        REGISTER, json=registration("someone@example.com", invitation=invitation["token"])
    )
    made_up = await client.post(
        REGISTER, json=registration("grace@example.com", invitation="inv_made-up")
    )
    assert hashes == []
    invited = await client.post(
        REGISTER, json=registration("grace@example.com", invitation=invitation["token"])
    )
    reused = await client.post(
        REGISTER, json=registration("grace2@example.com", invitation=invitation["token"])
    )
    listed = await client.get(INVITATIONS, headers=admin.headers)
    login = await client.post(
        "/api/v1/auth/login", json={"email": "grace@example.com", "password": PASSWORD}
    )

    assert_error(uninvited, 403, "invitation_required")
    assert_error(wrong_email, 403, "invitation_invalid")
    assert_error(made_up, 403, "invitation_invalid")
    assert invited.status_code == 202, invited.text
    assert_error(reused, 403, "invitation_invalid")
    assert login.status_code == 200
    assert invitation["email"] == "grace@example.com"
    [listed_invitation] = listed.json()["items"]
    assert listed_invitation["accepted_at"] is not None
    assert "token" not in listed_invitation


async def test_an_expired_or_withdrawn_invitation_admits_no_one(
    client: httpx.AsyncClient, admin: Account, session: AsyncSession
) -> None:
    await put_setting(client, admin, "signup_mode", "invitation")
    expired, withdrawn = await invite(client, admin), await invite(client, admin)
    await session.execute(
        update(Invitation)
        .where(Invitation.id == expired["id"])
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    deleted = await client.delete(f"{INVITATIONS}/{withdrawn['id']}", headers=admin.headers)

    late = await client.post(
        REGISTER, json=registration("late@example.com", invitation=expired["token"])
    )
    after_withdrawal = await client.post(
        REGISTER, json=registration("gone@example.com", invitation=withdrawn["token"])
    )

    assert deleted.status_code == 204
    assert_error(late, 403, "invitation_invalid")
    assert_error(after_withdrawal, 403, "invitation_invalid")


async def test_only_administrators_invite(client: httpx.AsyncClient) -> None:
    person = await sign_up(client)

    response = await client.post(INVITATIONS, json={}, headers=person.headers)

    assert_error(response, 403, "forbidden")
