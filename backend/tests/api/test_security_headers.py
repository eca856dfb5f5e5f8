"""Security headers on every response: strict for JSON, fit to render for the docs pages."""

import base64
import hashlib
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.conftest import TEST_NETWORK, Account, ClientFactory, build_app

BASELINE = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
STRICT_POLICY = "default-src 'none'; frame-ancestors 'none'"


def policy(response: httpx.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy as {directive: [sources]}."""
    directives = [part.split() for part in response.headers["content-security-policy"].split(";")]
    return {words[0]: words[1:] for words in directives if words}


def assert_baseline(response: httpx.Response) -> None:
    for name, value in BASELINE.items():
        assert response.headers.get(name) == value, (name, response.request.url)


async def test_json_answers_and_errors_carry_the_strict_headers(
    client: httpx.AsyncClient, alice: Account
) -> None:
    responses = [
        await client.get("/health"),
        await client.get("/api/v1/auth/me", headers=alice.headers),
        await client.get("/api/v1/auth/me"),  # 401
        await client.get("/api/v1/nope"),  # 404
        await client.get("/openapi.json"),
        await client.delete(f"/api/v1/conversations/{'0' * 8}-0000-0000-0000-{'0' * 12}"),
    ]
    for response in responses:
        assert_baseline(response)
        assert response.headers["content-security-policy"] == STRICT_POLICY
        assert "strict-transport-security" not in response.headers  # plain HTTP
        # A user's data is never kept by a browser or a proxy.
        assert response.headers["cache-control"] == "no-store", response.request.url


async def test_an_unhandled_error_carries_them_too(session: Any) -> None:
    from tests.api.conftest import client_for

    app: FastAPI = build_app(session)

    @app.get("/explode")
    async def explode() -> None:
        raise RuntimeError("boom")

    async with client_for(app) as client:
        response = await client.get("/explode")
    assert response.status_code == 500
    assert_baseline(response)
    assert response.headers["content-security-policy"] == STRICT_POLICY


# The sources a documentation page may name: keywords, hashes and schemes, never a host.
LOCAL_SOURCE = re.compile(r"^('self'|'none'|'unsafe-inline'|'sha256-[A-Za-z0-9+/=]+'|data:|blob:)$")


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_documentation_pages_load_everything_from_the_app_itself(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert_baseline(response)
    directives = policy(response)
    assert directives["default-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in directives["script-src"]
    for sources in directives.values():
        for source in sources:
            assert LOCAL_SOURCE.match(source), source
    html = response.text
    # Every script, stylesheet and icon the page names is a path on the app, and is served.
    assets = re.findall(r'<script src="([^"]+)"', html)
    assets += re.findall(r'<link[^>]*href="([^"]+)"', html)
    for url in assets:
        assert url.startswith("/docs/assets/"), url
        assert (await client.get(url)).status_code == 200, url
    # Each inline script is allowed by its hash, and so no injected one would be.
    for code in re.findall(r"<script>(.*?)</script>", html, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in directives["script-src"]
    assert directives["connect-src"] == ["'self'"]  # fetching /openapi.json


async def test_the_redoc_bundle_names_no_other_origin(client: httpx.AsyncClient) -> None:
    bundle = await client.get("/docs/assets/redoc.standalone.js")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert "cdn.redoc.ly" not in bundle.text


async def test_hsts_only_over_https(make_client: ClientFactory) -> None:
    forwarded = {"X-Forwarded-Proto": "https"}
    async with make_client() as client:
        untrusted = await client.get("/health", headers=forwarded)
    async with make_client(trusted_proxies=[str(TEST_NETWORK)]) as client:  # the test clients
        trusted = await client.get("/health", headers=forwarded)
        plain = await client.get("/health")
        client.base_url = httpx.URL("https://test")
        direct = await client.get("/health")

    assert "strict-transport-security" not in untrusted.headers
    assert "strict-transport-security" not in plain.headers
    for response in (trusted, direct):
        assert response.headers["strict-transport-security"].startswith("max-age=")
