import httpx
import pytest

from app.core.security import hash_password, token_digest
from app.db.repositories import SessionRepository, UserRepository
from tests.api.conftest import PASSWORD, Account, assert_error
from tests.factories import in_hours

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


async def test_register_normalises_the_email_and_the_client_logs_in_next(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        REGISTER, json={"email": "  Grace@Example.COM", "password": PASSWORD}
    )

    assert response.status_code == 202
    assert response.json()["email"] == "grace@example.com"
    assert "hash" not in response.text
    login = await client.post(LOGIN, json={"email": "grace@example.com", "password": PASSWORD})
    token = login.json()["access_token"]
    me = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert me.json()["email"] == "grace@example.com"
    assert me.json()["is_admin"] is False


async def test_register_answers_a_taken_email_exactly_as_a_free_one(
    client: httpx.AsyncClient,
) -> None:
    free = await client.post(REGISTER, json={"email": "twice@example.com", "password": PASSWORD})
    taken = await client.post(
        REGISTER, json={"email": "TWICE@example.com", "password": "another password"}
    )

    assert free.status_code == taken.status_code == 202
    assert free.json() == taken.json()
    assert set(free.headers) == set(taken.headers)
    # Nothing changed for the taken email: its first password still works, the second not.
    first = await client.post(LOGIN, json={"email": "twice@example.com", "password": PASSWORD})
    second = await client.post(
        LOGIN, json={"email": "twice@example.com", "password": "another password"}
    )
    assert first.status_code == 200
    assert_error(second, 401, "unauthorized")


async def test_register_hashes_the_password_for_a_taken_email_too(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same work either way, so timing does not tell a taken email from a free one."""
    hashed: list[str] = []

    async def counting_hash(password: str) -> str:
        hashed.append(password)
        return await hash_password(password)

    monkeypatch.setattr("app.api.routes.auth.hash_password", counting_hash)
    for _ in range(2):
        await client.post(REGISTER, json={"email": "timing@example.com", "password": PASSWORD})

    assert len(hashed) == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "body.email"),
        ({"email": "short@example.com", "password": "short"}, "body.password"),
        ({"email": "long@example.com", "password": "x" * 300}, "body.password"),
        ({"email": "blank@example.com", "password": " " * 12}, "body.password"),
        ({"password": PASSWORD}, "body.email"),
    ],
)
async def test_register_rejects_bad_input_with_field_details(
    client: httpx.AsyncClient, payload: dict[str, str], field: str
) -> None:
    error = assert_error(await client.post(REGISTER, json=payload), 422, "validation_error")
    assert field in [detail["field"] for detail in error["details"]]
    assert PASSWORD not in str(error)


async def test_login_me_logout(client: httpx.AsyncClient, alice: Account) -> None:
    me = await client.get(ME, headers=alice.headers)
    assert me.status_code == 200
    assert me.json()["email"] == alice.email

    assert (await client.post("/api/v1/auth/logout", headers=alice.headers)).status_code == 204

    assert_error(await client.get(ME, headers=alice.headers), 401, "unauthorized")


async def test_login_token_is_random_and_only_its_hash_is_stored(
    client: httpx.AsyncClient, alice: Account, session: object
) -> None:
    response = await client.post(LOGIN, json={"email": alice.email, "password": PASSWORD})
    token = response.json()["access_token"]

    assert len(token) >= 43  # 32 random bytes, base64url
    assert response.json()["token_type"] == "bearer"
    users = UserRepository(session)  # type: ignore[arg-type]
    assert await users.get_by_session_token(token_digest(token)) is not None
    assert await users.get_by_session_token(token) is None  # the clear token is stored nowhere


async def test_unknown_user_and_wrong_password_look_the_same(
    client: httpx.AsyncClient, alice: Account
) -> None:
    wrong_password = await client.post(LOGIN, json={"email": alice.email, "password": "x" * 12})
    no_such_user = await client.post(
        LOGIN, json={"email": "nobody@example.com", "password": PASSWORD}
    )

    first = assert_error(wrong_password, 401, "unauthorized")
    second = assert_error(no_such_user, 401, "unauthorized")
    assert first["message"] == second["message"]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer not-a-real-token", "Bearer ytk_not-a-real-key", "Basic abc"]
)
async def test_protected_routes_need_valid_credentials(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get(ME, headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_an_expired_session_is_refused_and_purged_at_the_next_login(
    client: httpx.AsyncClient, alice: Account, session: object
) -> None:
    sessions = SessionRepository(session)  # type: ignore[arg-type]
    expired_token = "expired-token-value"
    await sessions.create(
        user_id=alice.id,  # type: ignore[arg-type]
        token_hash=token_digest(expired_token),
        expires_at=in_hours(-1),
    )

    response = await client.get(ME, headers={"Authorization": f"Bearer {expired_token}"})
    assert_error(response, 401, "unauthorized")

    await client.post(LOGIN, json={"email": alice.email, "password": PASSWORD})
    assert await sessions.delete_by_token(token_digest(expired_token)) is False
