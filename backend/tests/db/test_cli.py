import os
import subprocess
import sys
import uuid

from app import cli
from app.core.config import BACKEND_DIR
from app.db.repositories import UserRepository
from app.db.session import unit_of_work


async def test_grant_and_revoke_admin(database_url: str) -> None:
    email = f"boss-{uuid.uuid4().hex[:8]}@example.com"
    async with unit_of_work() as session:
        await UserRepository(session).create(email=email, password_hash="h")

    try:
        assert await cli.set_admin(email, True) == f"{email} is now an administrator"
        async with unit_of_work() as session:
            assert (await UserRepository(session).get_by_email(email)).is_admin  # type: ignore[union-attr]
        assert "no longer" in await cli.set_admin(email.upper(), False)
    finally:
        async with unit_of_work() as session:
            users = UserRepository(session)
            user = await users.get_by_email(email)
            assert user is not None
            await users.delete(user.id)


def test_the_command_reports_an_unknown_email(database_url: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "app.cli", "grant-admin", "nobody@example.com"],
        cwd=BACKEND_DIR,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert "nobody@example.com" in completed.stderr
