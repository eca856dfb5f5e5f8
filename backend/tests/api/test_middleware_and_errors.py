import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.api.conftest import Account, ClientFactory, assert_error


async def test_the_callers_request_id_is_echoed_and_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.access"):
        response = await client.get("/health", headers={"X-Request-ID": "abc-123"})

    assert response.headers["X-Request-ID"] == "abc-123"
    access = [r for r in caplog.records if r.name == "app.access"]
    assert access
    assert "GET /health 200" in access[-1].getMessage()
    assert access[-1].getMessage().endswith("ms")


async def test_a_missing_or_unsafe_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    generated = await client.get("/health")
    unsafe = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})

    assert len(generated.headers["X-Request-ID"]) == 32
    assert unsafe.headers["X-Request-ID"] != "bad id\twith spaces"


async def test_unknown_route_and_method_use_the_error_shape(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/nope"), 404, "not_found")
    assert_error(await client.delete("/health"), 405, "method_not_allowed")


async def test_malformed_json_is_422_naming_the_body_and_where_it_breaks(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    (detail,) = assert_error(response, 422, "validation_error")["details"]
    assert detail["field"] == "body"  # not "body.1", which reads as a field named 1
    assert detail["type"] == "json_invalid"
    assert detail["message"].endswith("at character 1")


async def test_unhandled_errors_are_a_logged_500_without_internals(
    session: object, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.api.conftest import build_app, client_for

    app: FastAPI = build_app(session)  # type: ignore[arg-type]

    @app.get("/explode")
    async def explode() -> None:
        raise RuntimeError("secret internal detail")

    async with client_for(app) as client:
        response = await client.get("/explode")

    error = assert_error(response, 500, "internal_error")
    assert "secret" not in response.text
    assert any("secret internal detail" in (r.exc_text or "") for r in caplog.records)
    assert error["request_id"]


async def test_a_chunked_body_over_the_limit_is_413(make_client: ClientFactory) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1024

    async with make_client(max_request_bytes=4096) as client:
        response = await client.post(
            "/api/v1/auth/register", content=body(), headers={"Content-Type": "application/json"}
        )
    assert_error(response, 413, "payload_too_large")


async def test_cors_allows_the_configured_origins_only(make_client: ClientFactory) -> None:
    async with make_client(cors_origins=["https://app.example.com"]) as client:
        preflight = {"Access-Control-Request-Method": "POST"}
        allowed = await client.options(
            "/api/v1/auth/login", headers={"Origin": "https://app.example.com", **preflight}
        )
        refused = await client.options(
            "/api/v1/auth/login", headers={"Origin": "https://evil.example.com", **preflight}
        )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in refused.headers


async def test_openapi_documents_every_route_with_the_error_shape(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "ErrorResponse" in schema["components"]["schemas"]
    operations = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 25
    for path, method, operation in operations:
        assert any(code.startswith("2") for code in operation["responses"]), (path, method)
        if path.startswith("/api/v1/") and not path.endswith(("/register", "/login")):
            assert "401" in operation["responses"], (path, method)
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorResponse"), (path, method, code)
    assert (await client.get("/docs")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/conversations", "GET, HEAD, POST"),
        ("PUT", "/api/v1/conversations/{id}", "DELETE, GET, HEAD, PATCH"),
        ("PUT", "/api/v1/templates/{id}", "DELETE, GET, HEAD, PATCH"),
        ("GET", "/api/v1/transcripts/ingest", "POST"),
        ("DELETE", "/api/v1/transcripts/upload", "POST"),
        ("POST", "/api/v1/config/{key}", "DELETE, GET, HEAD, PUT"),
    ],
)
async def test_405_names_every_method_the_path_answers(
    client: httpx.AsyncClient, alice: Account, method: str, path: str, allowed: str
) -> None:
    url = path.replace("{id}", "6f1c2f8e-95b1-4bb0-9a7a-2b0d1b9d1c3e").replace("{key}", "k")
    response = await client.request(method, url, headers=alice.headers)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allowed


async def test_a_path_cannot_forge_a_log_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.access"):
        await client.get("/api/v1/nope%0a2026-12-05 INFO app.access GET /admin 200%0d")

    (access,) = [r for r in caplog.records if r.name == "app.access"]
    line = access.getMessage()
    assert "\n" not in line
    assert "\r" not in line
    assert "/api/v1/nope\\n2026-12-05 INFO app.access GET /admin 200\\r 404" in line


async def test_a_trailing_slash_is_a_404_naming_the_path_served(
    client: httpx.AsyncClient,
) -> None:
    """Not a redirect: Starlette's named an absolute http:// URL (wrong behind TLS), and a
    POST redirected is not followed by every client."""
    response = await client.post("/api/v1/conversations/", json={})

    error = assert_error(response, 404, "not_found")
    assert error["message"].endswith("served without its trailing slash, as /api/v1/conversations")
    assert "location" not in response.headers
    plain = assert_error(await client.get("/api/v1/nope/"), 404, "not_found")
    assert plain["message"] == "Not Found"


async def test_a_field_a_body_does_not_have_is_refused_by_name(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """A typo (`titel`) or another API's name was ignored: the request did something else
    than asked, with no word said."""
    response = await client.post(
        "/api/v1/conversations", json={"titel": "Physics"}, headers=alice.headers
    )

    (detail,) = assert_error(response, 422, "validation_error")["details"]
    assert (detail["field"], detail["type"]) == ("body.titel", "extra_forbidden")


async def test_a_query_parameter_an_operation_does_not_take_is_refused_by_name(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """`?limt=5` answered the default page of 20 as if it had been read."""
    response = await client.get("/api/v1/transcripts?limt=5&limit=5", headers=alice.headers)

    (detail,) = assert_error(response, 422, "validation_error")["details"]
    assert (detail["field"], detail["type"]) == ("query.limt", "extra_forbidden")
    # What the route and its dependencies take is read: paging, a search's words and mode.
    assert (
        await client.get("/api/v1/transcripts?limit=5&offset=0", headers=alice.headers)
    ).is_success
    search = await client.get("/api/v1/search?q=index&mode=lexical&limit=3", headers=alice.headers)
    assert search.is_success
    # HEAD is refused alike; a health probe's own parameters (a cache buster) are not.
    head = await client.head("/api/v1/transcripts?limt=5", headers=alice.headers)
    assert head.status_code == 422
    assert (await client.get("/health?nocache=1")).is_success
