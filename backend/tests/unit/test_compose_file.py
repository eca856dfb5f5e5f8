"""docker-compose.yml has no password of its own: Compose refuses to start until one is set.

No Docker engine runs here, so the file's variables are filled in as Compose does it
(`${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`).
"""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.core.config import BACKEND_DIR

COMPOSE_FILE = Path(BACKEND_DIR).parent / "docker-compose.yml"
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<rule>:?[-?])(?P<argument>[^}]*))?\}")


class MissingVariableError(Exception):
    """A `${NAME:?error}` whose variable is unset: Compose stops with the error."""


def interpolated(text: str, environment: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name, rule, argument = match["name"], match["rule"] or "", match["argument"]
        current = environment.get(name)
        if current is not None and not (rule.startswith(":") and current == ""):
            return current
        if rule.endswith("?"):
            raise MissingVariableError(f"{name}: {argument}")
        return argument if rule.endswith("-") else ""

    return VARIABLE.sub(value, text)


def compose(environment: dict[str, str]) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(interpolated(COMPOSE_FILE.read_text(), environment))
    return loaded


@pytest.mark.parametrize("environment", [{}, {"POSTGRES_PASSWORD": ""}])
def test_without_a_password_compose_refuses_to_start(environment: dict[str, str]) -> None:
    with pytest.raises(MissingVariableError, match=r"POSTGRES_PASSWORD: .*\.env"):
        compose(environment)


def test_the_password_set_reaches_the_database_and_the_app() -> None:
    services = compose({"POSTGRES_PASSWORD": "pw-3d9f"})["services"]

    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == "pw-3d9f"
    url = services["app"]["environment"]["DATABASE_URL"]
    assert url == "postgresql+asyncpg://youtube_talker:pw-3d9f@db:5432/youtube_talker"
