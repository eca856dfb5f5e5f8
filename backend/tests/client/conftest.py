"""A real server for the client's tests, and a way to run `talker` against it."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from app.client.cli import app
from app.core.config import BACKEND_DIR
from testkit.processes import terminate, unmeasured
from tests.service.conftest import free_port, wait_for_health

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def talker_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m testkit.replayed_server` on a free port, on the run's test database."""
    port = free_port()
    log = tmp_path_factory.mktemp("talker-server") / "server.log"
    environment = unmeasured(os.environ) | {
        "DATABASE_URL": database_url,
        "EMBEDDINGS_ENABLED": "false",  # no model to load: search and chat go by words
        "JOB_WORKERS": "1",
        # Every test signs up an account of its own, all from 127.0.0.1: more than the ten
        # sign-ups an hour one address gets by default.
        "SIGNUP_PER_ADDRESS_PER_HOUR": "0",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "testkit.replayed_server", str(port)],
            cwd=BACKEND_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_for_health(process, port)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{log.read_text()}") from error
        yield f"http://127.0.0.1:{port}"
    finally:
        terminate(process, timeout=30)


class Talker:
    """Runs `talker …` in-process against the test server, with its own config folder."""

    def __init__(self, url: str, config_home: Path, **env: str) -> None:
        self.env: dict[str, str | None] = {
            "TALKER_URL": url,
            "TALKER_API_KEY": None,
            "XDG_CONFIG_HOME": str(config_home),
            "COLUMNS": "200",
            **env,
        }
        self.config_home = config_home

    def __call__(self, *args: str, input: str | None = None, **env: str) -> Result:
        runner = CliRunner()
        result: Result = runner.invoke(app, list(args), input=input, env={**self.env, **env})
        return result

    @property
    def credentials(self) -> Path:
        return self.config_home / "talker" / "credentials.json"


def ok(result: Result) -> Result:
    """The result, asserted to have succeeded (showing what it printed otherwise)."""
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def signed_up(talker: Talker, email: str) -> Any:
    return ok(talker("register", "--email", email, "--password-stdin", input=PASSWORD + "\n"))
