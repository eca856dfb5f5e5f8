"""Validation at the edge, of sizes and shapes: JSON deeper than the limit, integers past their
bounds, whitespace-only messages and bodies that cannot be read are a documented 422 naming the
field, and no error, whatever the database refused, speaks in the database's words."""

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.api.deps import SessionDep
from app.api.schemas.common import MAX_JSON_DEPTH, MAX_OFFSET
from app.db.repositories import (
    ConversationRepository,
    MessageRepository,
    TranscriptRepository,
    UserRepository,
)
from tests.api.conftest import Account, assert_error, build_app, client_for, driver_wording_in
from tests.api.edge_requests import detail_fields, operations
from tests.factories import make_user

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


@pytest.mark.parametrize("content", [" ", "   \n\t  ", "\u2003", "\u200b\u200d \u200e"])
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
        await TranscriptRepository(db).create(
            user_id=owner_id, youtube_video_id="Wrong0ne123", transcript_text="x", duration=2**40
        )

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


async def test_a_validators_message_is_said_without_pydantics_prefix(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sent = await client.post(
        "/api/v1/transcripts/ingest", json={"video": "not a video"}, headers=alice.headers
    )

    error = assert_error(sent, 422, "validation_error")
    assert "Value error" not in error["message"]
    assert error["details"][0]["message"].startswith("not a YouTube video id or URL")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/conversations", {"title": "   "}, "body.title"),
        ("/api/v1/collections", {"videos": ["dQw4w9WgXcQ"], "name": " \u200b "}, "body.name"),
        ("/api/v1/api-keys", {"name": "  "}, "body.name"),
    ],
)
async def test_a_name_of_only_blanks_is_refused(
    client: httpx.AsyncClient, alice: Account, path: str, body: dict[str, Any], field: str
) -> None:
    """A list of untitled-looking rows nobody can tell apart is not what was meant."""
    refused = await client.post(path, json=body, headers=alice.headers)

    error = assert_error(refused, 422, "validation_error")
    assert [detail["field"] for detail in error["details"]] == [field]


async def test_a_search_or_a_transcript_of_only_blanks_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Nothing to search for, nothing to store: said, instead of an empty answer or a
    transcript nobody can read."""
    search = await client.get("/api/v1/search", params={"q": " \u200b "}, headers=alice.headers)
    stored = await client.post(
        "/api/v1/transcripts",
        json={"video": "blankText01", "transcript_text": "\u200b\u200d \u2060"},
        headers=alice.headers,
    )

    assert [d["field"] for d in assert_error(search, 422, "validation_error")["details"]] == [
        "query.q"
    ]
    assert "empty" in assert_error(stored, 422, "validation_error")["message"]
