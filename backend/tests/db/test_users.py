import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.errors import ConflictError, InvalidValueError, NotFoundError
from app.db.repositories import UserRepository
from tests.factories import make_user


async def test_create_then_get_by_id_and_email(session: AsyncSession) -> None:
    users = UserRepository(session)
    user = await make_user(session, "  Ada@Example.COM ")

    assert user.id is not None
    assert user.email == "ada@example.com"
    assert user.created_at is not None
    assert user.updated_at == user.created_at
    assert await users.get_by_id(user.id) is user
    assert await users.get_by_email("ADA@example.com") is user


async def test_unknown_user_is_none(session: AsyncSession) -> None:
    users = UserRepository(session)
    assert await users.get_by_id(uuid.uuid4()) is None
    assert await users.get_by_email("nobody@example.com") is None


async def test_create_unless_taken_inserts_once_and_leaves_a_taken_email_alone(
    session: AsyncSession,
) -> None:
    users = UserRepository(session)

    created = await users.create_unless_taken(email="Once@Example.com", password_hash="first")
    assert (
        await users.create_unless_taken(email=" once@example.COM", password_hash="second") is None
    )

    stored = await users.get_by_email("once@example.com")
    assert stored is not None
    assert stored.password_hash == "first"
    assert stored.id == created  # the new row's id, without reading it again


async def test_a_taken_email_is_a_conflict_holding_the_value_its_text_leaves_out(
    session: AsyncSession,
) -> None:
    await make_user(session, "dup@example.com")
    other = await make_user(session)

    with pytest.raises(ConflictError) as caught:
        await UserRepository(session).update(other.id, email="dup@example.com")

    assert caught.value.table == "users"
    assert caught.value.fields == {"email": "dup@example.com"}
    assert "dup@example.com" not in str(caught.value)  # logged: an email is personal data
    assert "Key (email) already exists" in str(caught.value)


@pytest.mark.parametrize("email", ["no-at-sign", "two@@example.com", "a@b", "sp ace@x.io"])
async def test_malformed_email_is_refused_by_the_database(
    session: AsyncSession, email: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        await UserRepository(session).create_unless_taken(email=email, password_hash="h")
    assert caught.value.constraint == "ck_users_email_format"


async def test_update_moves_updated_at(session: AsyncSession) -> None:
    users = UserRepository(session)
    user = await make_user(session)
    before = user.updated_at

    updated = await users.update(user.id, password_hash="new-hash")

    assert updated.password_hash == "new-hash"
    assert updated.updated_at > before
    assert updated.created_at == user.created_at


async def test_update_of_missing_row_or_unknown_column(session: AsyncSession) -> None:
    users = UserRepository(session)
    with pytest.raises(NotFoundError, match=r"User .* was not found"):
        await users.update(uuid.uuid4(), password_hash="x")
    user = await make_user(session)
    with pytest.raises(TypeError, match="no_such_column"):
        await users.update(user.id, no_such_column=1)


async def test_too_long_email_is_invalid_not_a_crash(session: AsyncSession) -> None:
    with pytest.raises(InvalidValueError, match="too long"):
        await UserRepository(session).create_unless_taken(
            email="a" * 250 + "@example.com", password_hash="h"
        )


async def test_delete_reports_whether_a_row_went(session: AsyncSession) -> None:
    users = UserRepository(session)
    user = await make_user(session)
    assert await users.delete(user.id) is True
    assert await users.delete(user.id) is False
    assert await users.get_by_id(user.id) is None


async def test_an_email_changed_by_update_is_stored_as_registering_stores_it(
    session: AsyncSession,
) -> None:
    """Otherwise "A@X" beside "a@x" would be two accounts, the second unable to log in."""
    first, second = await make_user(session), await make_user(session)
    users, address = UserRepository(session), second.email

    renamed = await users.update(second.id, email=f"  New-{address.upper()} ")
    assert renamed.email == f"new-{address}"
    with pytest.raises(ConflictError):
        await users.update(second.id, email=first.email.upper())
