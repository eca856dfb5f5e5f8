"""The API's documentation: the OpenAPI document completed with what FastAPI cannot know
(`complete_the_document_of`), and the interactive pages, Swagger UI at /docs and ReDoc at
/redoc, with every asset
(scripts, stylesheet, icon) served by the app itself from the fastapi-offline package, which
ships them with their licences. Nothing is fetched from a CDN, so the pages render without a
network, and their Content-Security-Policy (SecurityHeadersMiddleware) can allow the app's own
origin only.
"""

import functools
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
    swagger_ui_default_parameters,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

from app.api.streaming import document_answer_stream

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs/assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"

REDOC_BUNDLE = "redoc.standalone.js"
# ReDoc's credit line shows Redocly's logo from their CDN, the one thing its bundle fetches from
# elsewhere: it is replaced by an empty image so that the page asks nothing of another origin.
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_IMAGE = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"

# Swagger UI would otherwise send the document to validator.swagger.io for a badge.
SWAGGER_UI_PARAMETERS = {**swagger_ui_default_parameters, "validatorUrl": None}


def _root(request: Request) -> str:
    """The path prefix the app is mounted under behind a proxy (`--root-path`), or ''."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _page(
    render: Callable[..., HTMLResponse], paths: dict[str, str], **options: Any
) -> Callable[[Request], Awaitable[HTMLResponse]]:
    """A documentation page: `render` given `options`, and each URL the page names (`paths`,
    by `render`'s argument for it: a path on the app) under the prefix the app is mounted at."""

    async def page(request: Request) -> HTMLResponse:
        root = _root(request)
        return render(**{name: root + path for name, path in paths.items()}, **options)

    return page


@functools.cache
def redoc_bundle() -> bytes:
    return (ASSETS_DIR / REDOC_BUNDLE).read_bytes().replace(REDOC_CDN_LOGO, EMPTY_IMAGE)


async def serve_redoc_bundle(_: Request) -> Response:
    return Response(redoc_bundle(), media_type="text/javascript; charset=utf-8")


def install_docs(app: FastAPI) -> None:
    """Serve the documentation pages and their assets. The app is created with
    `docs_url=None, redoc_url=None`, so FastAPI's CDN-backed pages are not added too."""
    # Before the mount, which would otherwise serve the bundle as shipped.
    app.add_route(f"{ASSETS_URL}/{REDOC_BUNDLE}", serve_redoc_bundle, include_in_schema=False)
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    swagger_ui = _page(
        get_swagger_ui_html,
        {
            "openapi_url": openapi_url,
            "swagger_js_url": f"{ASSETS_URL}/swagger-ui-bundle.js",
            "swagger_css_url": f"{ASSETS_URL}/swagger-ui.css",
            "swagger_favicon_url": f"{ASSETS_URL}/favicon.png",
            "oauth2_redirect_url": OAUTH2_REDIRECT_URL,
        },
        title=f"{app.title} - Swagger UI",
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    )
    redoc = _page(
        get_redoc_html,
        {
            "openapi_url": openapi_url,
            "redoc_js_url": f"{ASSETS_URL}/{REDOC_BUNDLE}",
            "redoc_favicon_url": f"{ASSETS_URL}/favicon.png",
        },
        title=f"{app.title} - ReDoc",
        with_google_fonts=False,
    )

    async def swagger_ui_oauth2_redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_URL, swagger_ui_oauth2_redirect, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)


def complete_the_document_of(app: FastAPI) -> None:
    """Add to the document FastAPI builds what it cannot know: the answer stream's event
    schemas (it knows the models of JSON bodies only), and the answers the middleware gives
    around the routes (413, 503)."""
    build_document = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build_document()
            document_answer_stream(document)
            document_answers_around_routes(document)
        return build_document()  # FastAPI's, built once and kept

    app.openapi = openapi  # type: ignore[method-assign]


def document_answers_around_routes(document: dict[str, Any]) -> None:
    """Add to each operation of an OpenAPI document what it may answer around its route: 413
    when its request body passes MAX_REQUEST_BYTES, 415 when it comes in a content coding
    (BodySizeLimitMiddleware) or its JSON body under another Content-Type
    (app/api/validation.py), and 503 with
    Retry-After when the database is unavailable (RequestContextMiddleware: every operation
    reads it, but `/health`)."""
    error_shape = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    too_large = {"description": HTTPStatus(413).phrase, "content": error_shape}
    encoded = {
        "description": "The body was sent in a content coding (`Content-Encoding`: gzip, …).",
        "headers": {"Accept-Encoding": {"schema": {"type": "string", "const": "identity"}}},
        "content": error_shape,
    }
    not_json = {
        "description": "The body was not sent as `Content-Type: application/json`, or was sent "
        "in a content coding (`Content-Encoding`: gzip, …).",
        "content": error_shape,
    }
    retry_after = {"Retry-After": {"schema": {"type": "integer"}}}
    unavailable = {
        "description": "The database is unavailable; try again after `Retry-After` seconds.",
        "headers": retry_after,
        "content": error_shape,
    }
    for path, operations in document["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            if "requestBody" in operation:
                responses.setdefault("413", too_large)
                json_body = "application/json" in operation["requestBody"]["content"]
                responses.setdefault("415", not_json if json_body else encoded)
            if path != "/health":
                # /health/db documents its own 503; it sends Retry-After too.
                responses.setdefault("503", unavailable).setdefault("headers", retry_after)
