"""The README's data-layer script ("Using the data layer from code"), run as pasted, on a
database of its own that holds the account it expects."""

import asyncio
import os
import re
import sys

import pytest

from app.core.config import BACKEND_DIR, get_settings
from app.db.migrations import run_alembic
from app.db.session import Database
from testkit.database import create_database, drop_database
from tests.factories import make_user

README = BACKEND_DIR.parent / "README.md"
BLOCK = re.compile(r"## Using the data layer from code\n.*?```python\n(.*?)```", re.DOTALL)


def readme_script() -> str:
    match = BLOCK.search(README.read_text(encoding="utf-8"))
    assert match is not None, "README.md has no data-layer script"
    return match.group(1)


@pytest.mark.slow
async def test_the_readme_script_runs_as_pasted(server_url: str) -> None:
    url = await create_database(server_url, prefix="ytt_readme")
    try:
        await run_alembic(url)
        database = Database(get_settings().with_database_url(url))
        async with database.unit_of_work() as session:
            await make_user(session, "ada@example.com")
        await database.dispose()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            readme_script(),
            cwd=BACKEND_DIR,
            env={**os.environ, "DATABASE_URL": url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        printed, errors = await process.communicate()
    finally:
        await drop_database(url)

    assert process.returncode == 0, errors.decode()
    assert printed.decode().strip() == "1 ['Talk'] ['What was said about X?']"
