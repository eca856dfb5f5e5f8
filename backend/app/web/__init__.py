"""The web page at `/`: plain HTML, CSS and JavaScript modules served as they are (no build).

The page calls the same JSON API as any other client (`/api/v1`), with a bearer token it holds
in the tab's sessionStorage. Its own Content-Security-Policy lets it load only its own scripts,
styles and images and talk only to this origin; JSON answers keep their stricter policy.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

WEB_DIR = Path(__file__).parent
STATIC_PATH = "/static"

# Nothing inline, nothing from another host: the page works offline and an injected script or
# style attribute is not run. `form-action 'none'`: every form is sent by the page's script.
PAGE_CONTENT_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


class RevalidatedFiles(StaticFiles):
    """Static files a browser asks about again (a cheap 304) before each use, so a new version
    of the page never runs beside an old cached module."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


async def page() -> FileResponse:
    return FileResponse(
        WEB_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": PAGE_CONTENT_POLICY, "Cache-Control": "no-cache"},
    )


def install_web_page(app: FastAPI) -> None:
    """Serve the page at `/` and its scripts, styles and icon under `/static`."""
    app.add_api_route("/", page, methods=["GET"], include_in_schema=False)
    app.mount(STATIC_PATH, RevalidatedFiles(directory=WEB_DIR / "static"), name="static")
