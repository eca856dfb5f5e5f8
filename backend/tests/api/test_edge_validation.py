"""Validation at the edge: what PostgreSQL cannot store is refused before any query, field by
field, and no error speaks in the database's words."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from app.api.deps import SessionDep
from app.api.schemas.common import MAX_JSON_DEPTH, MAX_OFFSET
from app.db.repositories import (
    ConversationRepository,
    MessageRepository,
    TranscriptRepository,
    UserRepository,
)
from tests.api.conftest import (
    PASSWORD,
    Account,
    assert_error,
    build_app,
    client_for,
    driver_wording_in,
)
from tests.factories import make_user

NUL, SURROGATE = "\x00", "\ud800"
Location = tuple[str | int, ...]


def detail_fields(error: dict[str, Any]) -> dict[str, str]:
    return {detail["field"]: detail["type"] for detail in error["details"]}


def json_body(payload: Any) -> dict[str, Any]:
    """A request body as raw JSON: `\\u0000` and `\\ud800` escapes go through as they are."""
    return {
        "content": json.dumps(payload).encode(),
        "headers": {"Content-Type": "application/json"},
    }


# --- the OpenAPI walk: every string field of every operation refuses NUL and lone surrogates


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def string_locations(
    schema: dict[str, Any], document: dict[str, Any], where: Location = ()
) -> Iterator[Location]:
    """Every place in a body schema where a string may go (an untyped value takes one too)."""
    schema = resolve(schema, document)
    branches = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if branches:
        for branch in branches:
            yield from string_locations(branch, document, where)
        return
    kind = schema.get("type")
    if kind == "object":
        for name, child in schema.get("properties", {}).items():
            yield from string_locations(child, document, (*where, name))
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            yield from string_locations(extra, document, (*where, "name"))
        elif extra is True and not schema.get("properties"):
            yield (*where, "name")
    elif kind == "array":
        yield from string_locations(schema.get("items", {}), document, (*where, 0))
    elif kind is None or (kind == "string" and "contentMediaType" not in schema):
        yield where  # a file part (contentMediaType) is bytes, checked by its route


def placed(where: Location, value: Any) -> Any:
    """A document holding `value` at `where`, and nothing else."""
    for part in reversed(where):
        value = [value] if isinstance(part, int) else {part: value}
    return value


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def filled_path(path: str, operation: dict[str, Any], bad: str | None = None) -> str:
    """The path with a UUID for each id, `ok` for any other parameter (or `bad` for it)."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            is_uuid = parameter["schema"].get("format") == "uuid"
            value = str(uuid.uuid4()) if is_uuid else (bad or "ok")
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


def carrying(media_type: str, where: Location, value: str) -> dict[str, Any]:
    """httpx arguments for a body of `media_type` holding `value` at `where`."""
    if "json" in media_type:
        return {"content": json.dumps(placed(where, value)).encode()}
    caption = b"1\n00:00:00,000 --> 00:00:01,000\nHello\n"
    return {"data": {str(where[0]): value}, "files": {"file": ("talk.srt", caption)}}


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    schema: dict[str, Any] = (await client.get("/openapi.json")).json()
    return schema


async def test_every_string_field_of_every_body_refuses_nul_and_lone_surrogates(
    client: httpx.AsyncClient, alice: Account, document: dict[str, Any]
) -> None:
    checked = 0
    for path, method, operation in operations(document):
        content = operation.get("requestBody", {}).get("content", {})
        for media_type, body in content.items():
            for where in string_locations(body["schema"], document):
                # A form is UTF-8 on the wire: a lone surrogate cannot even be sent in one.
                for character in (NUL, SURROGATE) if "json" in media_type else (NUL,):
                    headers = dict(alice.headers)
                    if "json" in media_type:
                        headers["Content-Type"] = media_type
                    sent = await client.request(
                        method,
                        filled_path(path, operation),
                        headers=headers,
                        **carrying(media_type, where, f"a{character}b"),
                    )
                    field = ".".join(str(part) for part in ("body", *where))
                    error = assert_error(sent, 422, "validation_error")
                    assert field in detail_fields(error), (method, path, field, error)
                    checked += 1
    assert checked >= 40  # the walk found the fields, it did not pass vacuously


async def test_every_string_parameter_refuses_nul(
    client: httpx.AsyncClient, alice: Account, document: dict[str, Any]
) -> None:
    checked = 0
    for path, method, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if "string" not in json.dumps(parameter["schema"]) or parameter["in"] == "header":
                continue
            if parameter["schema"].get("format") == "uuid":
                continue  # an id path segment that is not a UUID matches no route at all: 404
            name, place = parameter["name"], parameter["in"]
            if place == "path":
                url, params = filled_path(path, operation, bad="a%00b"), {}
            else:
                url, params = filled_path(path, operation), {name: f"a{NUL}b"}
            sent = await client.request(method, url, params=params, headers=alice.headers)
            error = assert_error(sent, 422, "validation_error")
            assert f"{place}.{name}" in detail_fields(error), (method, path, name, error)
            checked += 1
    assert checked >= 5


async def test_a_route_added_later_is_covered_too(session: Any) -> None:
    app: FastAPI = build_app(session)

    class Note(BaseModel):
        text: str

    @app.post("/notes")
    async def add_note(note: Note) -> Note:
        return note

    async with client_for(app) as client:
        refused = await client.post("/notes", **json_body({"text": f"a{SURROGATE}"}))
        accepted = await client.post("/notes", json={"text": "plain"})
    assert detail_fields(assert_error(refused, 422, "validation_error")) == {
        "body.text": "lone_surrogate"
    }
    assert accepted.status_code == 200


async def test_keys_and_non_finite_numbers_are_checked_as_well(
    client: httpx.AsyncClient, alice: Account
) -> None:
    bad_key = json_body({"video": "dQw4w9WgXcQ", "transcript_text": "t", "metadata": {NUL: 1}})
    not_a_number = b'{"video": "dQw4w9WgXcQ", "transcript_text": "t", "metadata": {"x": NaN}}'
    headers = {**alice.headers, "Content-Type": "application/json"}

    key_error = assert_error(
        await client.post("/api/v1/transcripts", content=bad_key["content"], headers=headers),
        422,
        "validation_error",
    )
    number_error = assert_error(
        await client.post("/api/v1/transcripts", content=not_a_number, headers=headers),
        422,
        "validation_error",
    )
    assert detail_fields(key_error) == {"body.metadata": "nul_character"}
    assert detail_fields(number_error) == {"body.metadata.x": "non_finite_number"}


async def test_a_caption_file_with_nul_is_422_naming_the_file(
    client: httpx.AsyncClient, alice: Account
) -> None:
    caption = b"1\n00:00:00,000 --> 00:00:01,000\nHel\x00lo\n"
    sent = await client.post(
        "/api/v1/transcripts/upload",
        data={"video": "dQw4w9WgXcQ"},
        files={"file": ("talk.srt", caption)},
        headers=alice.headers,
    )
    assert detail_fields(assert_error(sent, 422, "validation_error")) == {
        "body.file": "value_error"
    }


# --- passwords


@pytest.mark.parametrize("character", [NUL, SURROGATE])
@pytest.mark.parametrize("route", ["register", "login"])
async def test_a_password_with_nul_or_a_lone_surrogate_is_422_naming_it(
    client: httpx.AsyncClient, alice: Account, route: str, character: str
) -> None:
    for email in (alice.email, "nobody@example.com"):
        payload = {"email": email, "password": f"{PASSWORD}{character}"}
        sent = await client.post(f"/api/v1/auth/{route}", **json_body(payload))
        error = assert_error(sent, 422, "validation_error")
        assert list(detail_fields(error)) == ["body.password"]
        assert PASSWORD not in sent.text
    # The same password without the character still works: nothing was stored for it.
    assert (
        await client.post("/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD})
    ).status_code == 200


# --- JSON depth


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


async def test_metadata_deeper_than_the_limit_is_422_and_the_limit_itself_is_kept(
    client: httpx.AsyncClient, alice: Account, document: dict[str, Any]
) -> None:
    def transcript(video: str, depth: int) -> dict[str, Any]:
        return {"video": video, "transcript_text": "words", "metadata": nested(depth)}

    too_deep = await client.post(
        "/api/v1/transcripts", json=transcript("dQw4w9WgXcQ", 256), headers=alice.headers
    )
    at_limit = await client.post(
        "/api/v1/transcripts",
        json=transcript("aaaaaaaaaaa", MAX_JSON_DEPTH),
        headers=alice.headers,
    )

    error = assert_error(too_deep, 422, "validation_error")
    assert "body.metadata" in detail_fields(error)
    assert at_limit.status_code == 201, at_limit.text
    read_back = await client.get(
        f"/api/v1/transcripts/{at_limit.json()['id']}", headers=alice.headers
    )
    assert read_back.json()["metadata"] == nested(MAX_JSON_DEPTH)
    described = document["components"]["schemas"]["TranscriptCreate"]["properties"]["metadata"]
    assert f"{MAX_JSON_DEPTH} levels" in described["description"]


async def test_a_config_value_deeper_than_the_limit_is_422(
    client: httpx.AsyncClient, alice: Account, session: Any
) -> None:
    await UserRepository(session).set_admin(alice.email)
    sent = await client.put(
        "/api/v1/config/deep", json={"value": nested(MAX_JSON_DEPTH + 1)}, headers=alice.headers
    )
    assert "body.value" in detail_fields(assert_error(sent, 422, "validation_error"))


# --- integer bounds


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/conversations",
        "/api/v1/transcripts",
        "/api/v1/jobs",
        "/api/v1/api-keys",
        "/api/v1/templates",
    ],
)
async def test_an_offset_past_the_bound_is_422_naming_it(
    client: httpx.AsyncClient, alice: Account, path: str
) -> None:
    for offset in (10**20, MAX_OFFSET + 1):
        sent = await client.get(path, params={"offset": offset}, headers=alice.headers)
        error = assert_error(sent, 422, "validation_error")
        assert list(detail_fields(error)) == ["query.offset"]
    assert (
        await client.get(path, params={"offset": MAX_OFFSET}, headers=alice.headers)
    ).status_code == 200


async def test_every_integer_parameter_and_field_has_an_upper_bound(
    document: dict[str, Any],
) -> None:
    unbounded = [
        (path, parameter["name"])
        for path, _, operation in operations(document)
        for parameter in operation.get("parameters", [])
        if parameter["schema"].get("type") == "integer" and "maximum" not in parameter["schema"]
    ]
    for name, schema in document["components"]["schemas"].items():
        if name.endswith(("Create", "Write", "Request", "In")) or name.startswith("Body_"):
            for field, child in schema.get("properties", {}).items():
                types = [child, *child.get("anyOf", [])]
                if any(
                    t.get("type") in ("integer", "number") and "maximum" not in t for t in types
                ):
                    unbounded.append((name, field))
    assert unbounded == []


# --- whitespace-only messages


@pytest.mark.parametrize("content", [" ", "   \n\t  ", "\u2003"])
async def test_a_whitespace_only_message_is_422_and_not_answered(
    client: httpx.AsyncClient, alice: Account, content: str
) -> None:
    conversation = (
        await client.post("/api/v1/conversations", json={}, headers=alice.headers)
    ).json()
    messages = f"/api/v1/conversations/{conversation['id']}/messages"

    sent = await client.post(messages, json={"content": content}, headers=alice.headers)

    error = assert_error(sent, 422, "validation_error")
    assert list(detail_fields(error)) == ["body.content"]
    assert (await client.get(messages, headers=alice.headers)).json()["total"] == 0


# --- bodies that cannot be read


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"email": "\xff\xfe"}', "application/json"),
        (b"\xc3\x28 not utf-8", "application/json"),
        (b"{not json", "application/json"),
        (b"--x\r\nno headers\r\n--x--\r\n", "multipart/form-data; boundary=x"),
    ],
)
async def test_an_unreadable_body_is_a_documented_422(
    client: httpx.AsyncClient, alice: Account, content: bytes, content_type: str
) -> None:
    path = (
        "/api/v1/transcripts/upload"
        if content_type.startswith("multipart")
        else "/api/v1/auth/login"
    )
    sent = await client.post(
        path, content=content, headers={**alice.headers, "Content-Type": content_type}
    )
    error = assert_error(sent, 422, "validation_error")
    assert error["details"][0]["field"].startswith("body")


async def test_every_operation_with_a_body_documents_422_in_the_error_shape(
    document: dict[str, Any],
) -> None:
    with_body = [
        (path, method, operation)
        for path, method, operation in operations(document)
        if "requestBody" in operation
    ]
    assert len(with_body) >= 10
    for path, method, operation in with_body:
        documented = operation["responses"].get("422")
        assert documented, (method, path)
        schema = documented["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/ErrorResponse"), (method, path)


# --- no database wording in any error


async def test_database_refusals_are_answered_without_the_databases_words(session: Any) -> None:
    app: FastAPI = build_app(session)
    owner = await make_user(session, "owner@example.com")
    owner_id = owner.id
    await session.commit()  # kept when a refused request rolls back

    @app.post("/refusals/nul")
    async def nul(db: SessionDep) -> None:
        await ConversationRepository(db).create(user_id=owner_id, title="a\x00b")

    @app.post("/refusals/out-of-range")
    async def out_of_range(db: SessionDep) -> None:
        await ConversationRepository(db).page_for_user(owner_id, limit=10, offset=10**20)

    @app.post("/refusals/missing-reference")
    async def missing_reference(db: SessionDep) -> None:
        await MessageRepository(db).create(conversation_id=uuid.uuid4(), role="user", content="x")

    @app.post("/refusals/duplicate")
    async def duplicate(db: SessionDep) -> None:
        for _ in range(2):
            await TranscriptRepository(db).create(
                user_id=owner_id, youtube_video_id="dQw4w9WgXcQ", transcript_text="twice"
            )

    expected = {"nul": 422, "out-of-range": 422, "missing-reference": 404, "duplicate": 409}
    async with client_for(app) as client:
        for name, status in expected.items():
            sent = await client.post(f"/refusals/{name}")
            assert sent.status_code == status, (name, sent.text)
            assert driver_wording_in(sent.json()) is None, (name, sent.text)
