"""A client generated from the OpenAPI document (openapi-python-client) works against the
running service: it registers, logs in, starts a conversation, asks, and lists, with the typed
models the document describes."""

import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app.main import create_app
from testkit.database import create_database, drop_database
from tests.service.conftest import start_process, stop_process, wait_for_health

pytestmark = pytest.mark.slow

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "youtube_talker_client"


@pytest.fixture
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """An empty database: the service migrates it, and what the client stores stays there."""
    url = await create_database(server_url, prefix="ytt_client")
    try:
        yield url
    finally:
        await drop_database(url)


@pytest.fixture
def service(fresh_database: str) -> Iterator[str]:
    process, port = start_process(
        DATABASE_URL=fresh_database,
        JOBS_ENABLED="false",
        EMBEDDINGS_ENABLED="false",
        measured=False,
    )
    try:
        wait_for_health(process, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The client package, generated into a temporary folder and importable."""
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(create_app().openapi()))
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n")  # the generated code is not formatted: not needed
    subprocess.run(  # noqa: S603 - our own tool and arguments
        [
            str(GENERATOR),
            "generate",
            f"--path={document}",
            f"--output-path={tmp_path / PACKAGE}",
            f"--config={config}",
            "--meta=none",
            "--fail-on-warning",
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module(PACKAGE)
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def operation(tag: str, operation_id: str) -> Any:
    """The generated module of an operation: `sync(...)` calls it and returns its model."""
    return module(f"api.{tag}.{operation_id}")


def test_a_generated_client_registers_logs_in_and_lists_conversations(
    generated: ModuleType, service: str
) -> None:
    models = module("models")
    email, password = f"gen-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery"
    credentials = models.Credentials(email=email, password=password)

    with generated.Client(base_url=service) as anonymous:
        registered = operation("auth", "register").sync(client=anonymous, body=credentials)
        logged_in = operation("auth", "login").sync(client=anonymous, body=credentials)
    assert isinstance(registered, models.RegistrationReceived)
    assert isinstance(logged_in, models.LoginResult)

    with generated.AuthenticatedClient(base_url=service, token=logged_in.access_token) as client:
        created = operation("conversations", "create_conversation").sync(
            client=client, body=models.ConversationCreate(title="Sourdough questions")
        )
        exchange = operation("conversations", "ask").sync(
            conversation_id=created.id,
            client=client,
            body=models.MessageCreate(content="How often should I feed my starter?"),
        )
        listed = operation("conversations", "list_conversations").sync(client=client)

    assert isinstance(listed, models.PageConversationPublic)
    assert listed.total == 1
    assert [c.title for c in listed.items] == ["Sourdough questions"]
    assert [c.id for c in listed.items] == [created.id]
    # No video yet: an honest decline, read through the typed metadata.
    metadata = exchange.assistant_message.metadata
    assert isinstance(metadata, models.MessageMetadata)
    assert metadata.grounded is False
    assert metadata.citations == []
