"""Changing the password ends the account's other sessions; signing out everywhere ends them
all; neither can be done with an API key."""

import asyncio
import uuid

import httpx
from sqlalchemy import text

from app.core.security import hash_password
from app.db.repositories import UserRepository
from app.db.session import Database
from tests.api.conftest import (
    PASSWORD,
    Account,
    assert_error,
    signed_up_on_the_database,
)

NEW_PASSWORD = "a longer and newer passphrase"


async def second_session(
    client: httpx.AsyncClient, account: Account, password: str
) -> dict[str, str]:
    login = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": password}
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def me(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/api/v1/auth/me", headers=headers)).status_code


async def test_a_new_password_ends_every_other_session(
    client: httpx.AsyncClient, alice: Account
) -> None:
    phone = await second_session(client, alice, PASSWORD)

    changed = await client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=alice.headers,
    )
    old_password = await client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD}
    )

    assert changed.status_code == 200, changed.text
    assert changed.json() == {"sessions_ended": 1}
    assert await me(client, alice.headers) == 200
    assert await me(client, phone) == 401
    assert old_password.status_code == 401
    assert await me(client, await second_session(client, alice, NEW_PASSWORD)) == 200


async def test_the_current_password_must_be_right_and_the_new_one_fit_the_rules(
    client: httpx.AsyncClient, alice: Account
) -> None:
    wrong = await client.post(
        "/api/v1/auth/password",
        json={"current_password": "not it at all", "new_password": NEW_PASSWORD},
        headers=alice.headers,
    )
    short = await client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=alice.headers,
    )

    assert assert_error(wrong, 422, "validation_error")["details"][0]["field"] == (
        "body.current_password"
    )
    assert assert_error(short, 422, "validation_error")["details"][0]["field"] == (
        "body.new_password"
    )
    assert await me(client, await second_session(client, alice, PASSWORD)) == 200


async def test_signing_out_everywhere_ends_every_session(
    client: httpx.AsyncClient, alice: Account
) -> None:
    phone = await second_session(client, alice, PASSWORD)

    ended = await client.post("/api/v1/auth/logout-everywhere", headers=alice.headers)

    assert ended.json() == {"sessions_ended": 2}
    assert await me(client, alice.headers) == 401
    assert await me(client, phone) == 401


async def test_an_api_key_cannot_change_the_password_or_end_sessions(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "all of it", "scopes": ["read", "write", "admin"]},
        headers=alice.headers,
    )
    key = {"Authorization": f"Bearer {created.json()['key']}"}

    changed = await client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=key,
    )
    ended = await client.post("/api/v1/auth/logout-everywhere", headers=key)

    assert_error(changed, 403, "forbidden")
    assert_error(ended, 403, "forbidden")
    assert await me(client, alice.headers) == 200


async def test_password_changes_made_at_once_take_turns(database: Database) -> None:
    """On the real database, each request its own transaction: of changes sent together with
    the same current password, one wins and the others are told the password is not right,
    instead of every one answering 200 while only the last to commit holds."""
    async with signed_up_on_the_database(database) as (client, account):
        new_passwords = [f"{NEW_PASSWORD} number {n}" for n in range(4)]
        answers = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/auth/password",
                    json={"current_password": PASSWORD, "new_password": password},
                    headers=account.headers,
                )
                for password in new_passwords
            )
        )
        statuses = sorted(answer.status_code for answer in answers)
        winner = new_passwords[[a.status_code for a in answers].index(200)]
        loser = next(password for password in new_passwords if password != winner)
        # The winner's first: the losers' wrong current passwords count with failed logins,
        # and a few more failures would have the address wait.
        logins = [
            await client.post(
                "/api/v1/auth/login", json={"email": account.email, "password": password}
            )
            for password in (winner, loser)
        ]

    assert statuses == [200, 422, 422, 422], [answer.text for answer in answers]
    for answer in answers:
        if answer.status_code == 422:
            assert_error(answer, 422, "validation_error")
    assert [login.status_code for login in logins] == [200, 401]


async def waiting_for_a_lock(database: Database) -> None:
    """Until some statement waits for a row lock (the login, behind the change's)."""
    for _ in range(500):
        async with database.unit_of_work() as session:
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no statement came to wait for the account's row")


async def test_a_login_checked_while_the_password_changes_gets_no_session(
    database: Database,
) -> None:
    """A login that read the old password before a change committed: the change ends every
    other session, so this login must not open one that outlives it."""
    async with signed_up_on_the_database(database) as (client, account):
        user_id = uuid.UUID(account.id)
        async with database.unit_of_work() as changing:  # a change under way
            await UserRepository(changing).lock(user_id)
            login = asyncio.create_task(
                client.post(
                    "/api/v1/auth/login", json={"email": account.email, "password": PASSWORD}
                )
            )
            await waiting_for_a_lock(database)
            await UserRepository(changing).update(
                user_id, password_hash=await hash_password(NEW_PASSWORD)
            )
        answer = await login
        with_the_new_one = await client.post(
            "/api/v1/auth/login", json={"email": account.email, "password": NEW_PASSWORD}
        )

    assert_error(answer, 401, "unauthorized")
    assert with_the_new_one.status_code == 200, with_the_new_one.text


async def test_a_login_and_a_password_change_at_once_leave_no_session_of_the_old_password(
    database: Database,
) -> None:
    """Sent together from one address, each several times: never a 500 (they used to
    deadlock), and a session the login got with the old password ends with the change."""
    async with signed_up_on_the_database(database) as (client, account):
        outcomes = []
        for round_ in range(4):
            current = PASSWORD if round_ == 0 else f"{NEW_PASSWORD} {round_ - 1}"
            new = f"{NEW_PASSWORD} {round_}"
            login, change = await asyncio.gather(
                client.post(
                    "/api/v1/auth/login", json={"email": account.email, "password": current}
                ),
                client.post(
                    "/api/v1/auth/password",
                    json={"current_password": current, "new_password": new},
                    headers=account.headers,
                ),
            )
            token = login.json().get("access_token") if login.status_code == 200 else None
            still_in = await me(client, {"Authorization": f"Bearer {token}"}) if token else None
            outcomes.append((login.status_code, change.status_code, still_in))

    for login_status, change_status, still_in in outcomes:
        assert change_status == 200, outcomes
        assert login_status in (200, 401), outcomes
        assert still_in in (None, 401), outcomes


async def test_wrong_current_passwords_are_slowed_down_as_failed_logins_are(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """With a stolen session token, the password change must not be a free way to guess the
    password: its wrong guesses count with the login's, and past the allowance wait."""
    answers = [
        await client.post(
            "/api/v1/auth/password",
            json={"current_password": f"guess number {n}", "new_password": NEW_PASSWORD},
            headers=alice.headers,
        )
        for n in range(6)
    ]

    assert [a.status_code for a in answers] == [422] * 5 + [429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    login = await client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD}
    )
    assert_error(login, 429, "too_many_requests")  # the same counters, from the same address
