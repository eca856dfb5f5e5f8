"""Validation at the edge, of text: a NUL or a lone surrogate, which PostgreSQL cannot store,
is refused before any query in every string field and parameter of every operation (found by
walking the OpenAPI document), in keys, in a caption file and in a password, naming the field."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from tests.api.conftest import PASSWORD, Account, assert_error, build_app, client_for
from tests.api.edge_requests import NUL, SURROGATE, detail_fields, json_body, operations

Location = tuple[str | int, ...]


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


@pytest.mark.parametrize("number", [b"-1e999", b"1E+400", b"1" * 400 + b".5"])
async def test_a_number_too_large_for_a_float_is_refused_not_stored_as_null(
    client: httpx.AsyncClient, alice: Account, number: bytes
) -> None:
    """Python reads these as infinity, and JSON has no infinity: it was stored as `null`."""
    body = b'{"video": "dQw4w9WgXcQ", "transcript_text": "t", "metadata": {"x": ' + number + b"}}"
    headers = {**alice.headers, "Content-Type": "application/json"}

    response = await client.post("/api/v1/transcripts", content=body, headers=headers)

    error = assert_error(response, 422, "validation_error")
    assert detail_fields(error) == {"body.metadata.x": "non_finite_number"}


async def test_a_title_too_long_is_said_as_every_text_field_says_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        "/api/v1/conversations", json={"title": "x" * 501}, headers=alice.headers
    )

    error = assert_error(response, 422, "validation_error")
    assert detail_fields(error) == {"body.title": "string_too_long"}
    assert "at most 500 characters" in error["details"][0]["message"]
