"""The OpenAPI document is fit for generated clients: it validates, its operation ids read as
method names, every request body has an example (and every example is valid), the message
metadata is typed, the answer stream's events are documented as they are sent, and so are the
answers the middleware gives around the routes."""

import gzip
import importlib
import pkgutil
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

import app.api.schemas
from app.api.streaming import STREAM_EVENTS
from app.main import create_app
from tests.api.conftest import Account, ClientFactory, assert_error
from tests.api.talks import talking_to
from tests.api.test_chat import OVEN_QUESTION, new_conversation, parse_sse
from tests.fakes import ScriptedModel

METHOD_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
COMPONENTS = "#/components/schemas/"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].removeprefix(COMPONENTS)]
    return schema


@pytest.mark.slow
def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


def test_operation_ids_read_as_method_names_and_are_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]

    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert METHOD_NAME.match(operation_id), operation_id
        assert "api_v1" not in operation_id, operation_id  # no path or method appended
    assert {"register", "login", "list_conversations", "create_conversation", "ask"} <= set(ids)


def test_every_request_body_has_an_example(document: dict[str, Any]) -> None:
    missing = [
        (method, path, media_type)
        for method, path, operation in operations(document)
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items()
        if not {"example", "examples"} & set(content)
        and "examples" not in resolve(content["schema"], document)
    ]
    assert missing == []


def models_with_examples() -> Iterator[type[BaseModel]]:
    modules = [f"app.api.schemas.{m.name}" for m in pkgutil.iter_modules(app.api.schemas.__path__)]
    for module in map(importlib.import_module, [*modules, "app.api.errors"]):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
                and isinstance(value.model_config.get("json_schema_extra"), dict)
            ):
                yield value


def test_every_example_is_valid_for_its_model() -> None:
    checked = set()
    for model in models_with_examples():
        extra = model.model_config["json_schema_extra"]
        assert isinstance(extra, dict)
        for example in extra["examples"]:  # type: ignore[union-attr]
            model.model_validate(example)
        checked.add(model.__name__)
    # The main answers carry one too, not only the requests.
    assert {"ConversationPublic", "MessagePublic", "LoginResult", "ErrorResponse"} <= checked


def test_message_metadata_citations_and_usage_are_typed(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    message = schemas["MessagePublic"]["properties"]
    metadata = resolve(message["metadata"], document)
    assert message["metadata"] == {"$ref": COMPONENTS + "MessageMetadata"}
    assert metadata["properties"]["citations"]["items"] == {"$ref": COMPONENTS + "Citation"}
    assert metadata["properties"]["usage"] == {"$ref": COMPONENTS + "TokenUsage"}
    assert "required" not in metadata  # a question's metadata is {}
    draft = schemas["DraftResult"]["properties"]
    assert draft["sources"]["items"] == {"$ref": COMPONENTS + "Citation"}
    assert draft["usage"] == {"$ref": COMPONENTS + "TokenUsage"}
    assert set(schemas["Citation"]["required"]) >= {"number", "transcript_id", "url"}


@pytest.mark.parametrize(
    ("schema", "fields"),
    [
        ("ErrorBody", {"details"}),
        ("ErrorDetail", {"field"}),
        ("LoginResult", {"token_type"}),
        ("SearchHit", {"language"}),
        ("ConversationPublic", {"transcript_ids", "collection_ids"}),
    ],
)
def test_what_a_response_always_carries_is_required(
    document: dict[str, Any], schema: str, fields: set[str]
) -> None:
    """Fields with a default are still always answered: a generated client should not type
    them as optional (`Unset`)."""
    assert fields <= set(document["components"]["schemas"][schema]["required"])


def test_the_collection_progress_stream_documents_its_error_event(
    document: dict[str, Any],
) -> None:
    events = document["paths"]["/api/v1/collections/{collection_id}/events"]["get"]
    stream = events["responses"]["200"]["content"]["text/event-stream"]["schema"]
    assert {option["$ref"] for option in stream["oneOf"]} == {
        COMPONENTS + "ProgressPublic",
        COMPONENTS + "ErrorResponse",
    }


def test_closed_sets_are_enumerated(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["JobPublic"]["properties"]["kind"]["enum"] == ["youtube_ingest", "embed"]
    assert "enum" in schemas["DraftResult"]["properties"]["template_type"]


def test_the_answer_stream_is_documented(document: dict[str, Any]) -> None:
    ask = document["paths"]["/api/v1/conversations/{conversation_id}/messages"]["post"]
    stream = ask["responses"]["201"]["content"]["text/event-stream"]
    event = resolve(stream["schema"], document)

    assert stream["schema"] == {"$ref": COMPONENTS + "AnswerStreamEvent"}
    assert set(event["discriminator"]["mapping"]) == {"user_message", "delta", "done", "error"}
    payloads = {
        name: resolve({"$ref": ref}, document)["properties"]["data"]
        for name, ref in event["discriminator"]["mapping"].items()
    }
    assert payloads["user_message"] == {"$ref": COMPONENTS + "MessagePublic"}
    assert payloads["done"] == {"$ref": COMPONENTS + "MessagePublic"}
    assert payloads["error"] == {"$ref": COMPONENTS + "ErrorResponse"}
    assert resolve(payloads["delta"], document)["required"] == ["text"]
    assert "text/event-stream" in ask["description"]


async def test_streamed_events_match_their_documented_schemas(session: AsyncSession) -> None:
    async with talking_to(session, ScriptedModel()) as (client, account):
        conversation_id = await new_conversation(client, account)
        response = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"content": OVEN_QUESTION},
            headers={**account.headers, "Accept": "text/event-stream"},
        )

    events = parse_sse(response.text)
    assert (events[0][0], events[-1][0]) == ("user_message", "done")
    for name, data in events:
        STREAM_EVENTS[name].model_validate({"event": name, "data": data})
    done = STREAM_EVENTS["done"].model_validate({"event": "done", "data": events[-1][1]})
    assert done.data.metadata.citations  # type: ignore[union-attr]


async def test_the_typed_answer_is_the_json_that_was_stored(session: AsyncSession) -> None:
    """The answer as `POST …/messages` returns it (through the typed models) is, byte for
    byte once parsed, what `GET …/messages` reads straight from the database."""
    async with talking_to(session, ScriptedModel()) as (client, account):
        conversation_id = await new_conversation(client, account)
        grounded = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"content": OVEN_QUESTION},
            headers=account.headers,
        )
        declined = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"content": "Who won the 1954 football world cup?"},
            headers=account.headers,
        )
        listed = await client.get(
            f"/api/v1/conversations/{conversation_id}/messages", headers=account.headers
        )

    returned = [
        message
        for exchange in (grounded.json(), declined.json())
        for message in (exchange["user_message"], exchange["assistant_message"])
    ]
    assert returned == listed.json()["items"]
    answer, refusal = returned[1]["metadata"], returned[3]["metadata"]
    assert returned[0]["metadata"] == {}
    assert answer["usage"] == {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
    assert answer["citations"][0]["url"].startswith("https://youtu.be/")
    assert refusal["provider"] is None  # stored as null: kept as null
    assert "usage" not in refusal  # not stored: not invented


def test_the_answers_around_the_routes_are_documented(document: dict[str, Any]) -> None:
    """413 on every operation that takes a body; 503 with Retry-After on every one that reads
    the database, which is all but `/health`."""
    for method, path, operation in operations(document):
        responses = operation["responses"]
        if "requestBody" in operation:
            assert "413" in responses, (method, path)
        if path == "/health":
            assert "503" not in responses
            continue
        assert "Retry-After" in responses["503"].get("headers", {}), (method, path)
        assert (
            resolve(responses["503"]["content"]["application/json"]["schema"], document)["title"]
            == "ErrorResponse"
        )


async def test_a_body_too_large_is_answered_as_documented(
    make_client: ClientFactory, alice: Account, document: dict[str, Any]
) -> None:
    async with make_client(max_request_bytes=64) as client:
        response = await client.post(
            "/api/v1/conversations", json={"title": "x" * 100}, headers=alice.headers
        )

    assert response.status_code == 413
    assert "413" in document["paths"]["/api/v1/conversations"]["post"]["responses"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_json_body_sent_as_another_type_is_answered_415(
    client: httpx.AsyncClient, alice: Account, document: dict[str, Any], content_type: str | None
) -> None:
    """A script that forgets the header learns what to send, not that a dictionary is wanted."""
    headers = {**alice.headers, **({"Content-Type": content_type} if content_type else {})}
    response = await client.post(
        "/api/v1/conversations", content=b'{"title": "x"}', headers=headers
    )

    error = assert_error(response, 415, "unsupported_media_type")
    assert "application/json" in error["message"]
    assert (content_type or "none") in error["message"]
    assert error["details"][0]["field"] == "body"
    assert "415" in document["paths"]["/api/v1/conversations"]["post"]["responses"]


@pytest.mark.parametrize(
    ("path", "coding", "body"),
    [
        # mtime=0: the same bytes in every test process, which must collect the same tests.
        ("/api/v1/conversations", "gzip", gzip.compress(b'{"title": "x"}', mtime=0)),
        ("/api/v1/conversations", "br", b'{"title": "x"}'),  # a coding on plain text
        ("/api/v1/transcripts/upload", "GZIP", gzip.compress(b"--x--", mtime=0)),
    ],
    ids=["gzip-json", "br-on-plain-json", "gzip-upload"],
)
async def test_a_body_in_a_content_coding_is_answered_415_naming_identity(
    client: httpx.AsyncClient,
    alice: Account,
    document: dict[str, Any],
    path: str,
    coding: str,
    body: bytes,
) -> None:
    """RFC 9110 §15.5.16: not read as unreadable bytes (422), nor taken as it is."""
    headers = {**alice.headers, "Content-Type": "application/json", "Content-Encoding": coding}
    response = await client.post(path, content=body, headers=headers)

    error = assert_error(response, 415, "unsupported_media_type")
    assert coding.lower() in error["message"]
    assert response.headers["Accept-Encoding"] == "identity"
    assert "415" in document["paths"][path]["post"]["responses"]


async def test_a_content_coding_named_with_no_body_is_no_concern(
    client: httpx.AsyncClient, alice: Account
) -> None:
    headers = {**alice.headers, "Content-Encoding": "gzip"}
    assert (await client.get("/api/v1/conversations", headers=headers)).status_code == 200


async def test_a_json_body_that_is_not_an_object_is_still_422(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post("/api/v1/conversations", json=[1, 2], headers=alice.headers)

    assert_error(response, 422, "validation_error")
