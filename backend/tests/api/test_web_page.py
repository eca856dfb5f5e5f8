"""The web page at `/`: served as it is, with its own strict policy, and nothing from elsewhere.
(What it does in a browser is tested in tests/browser/.)"""

import re

import httpx

from app.web import WEB_DIR
from tests.api.conftest import assert_error
from tests.api.test_security_headers import assert_baseline, policy

IMPORT = re.compile(r"""from\s+"(\./[\w-]+\.js)"|import\s+"(\./[\w-]+\.js)\"""")
LOCAL_REFERENCE = re.compile(r"""(?:src|href)="([^"]*)\"""")


async def test_the_page_is_served_at_the_root_under_a_policy_allowing_only_itself(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert_baseline(response)
    assert policy(response) == {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
    assert '<script type="module" src="/static/app.js"></script>' in response.text


async def test_the_page_refers_only_to_its_own_files(client: httpx.AsyncClient) -> None:
    html = (await client.get("/")).text

    references = LOCAL_REFERENCE.findall(html)

    assert references
    assert all(ref.startswith(("/static/", "#")) for ref in references), references
    for path in (ref for ref in references if ref.startswith("/static/")):
        assert (await client.get(path)).status_code == 200, path


async def test_every_module_the_page_imports_is_served_as_javascript(
    client: httpx.AsyncClient,
) -> None:
    pending, seen = ["app.js"], set()
    while pending:
        name = pending.pop()
        seen.add(name)
        response = await client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("text/javascript"), name
        for found in IMPORT.findall(response.text):
            imported = (found[0] or found[1]).removeprefix("./")
            if imported not in seen:
                pending.append(imported)

    assert seen == {path.name for path in (WEB_DIR / "static").glob("*.js")}


YOUTUBE_LINKS = ("https://www.youtube.com/watch", "https://www.youtube.com/playlist")


def test_no_file_of_the_page_loads_anything_from_another_host() -> None:
    """It works offline: the only outside addresses are the video a citation opens and the
    link formats the fields show as hints."""
    for path in WEB_DIR.rglob("*"):
        if path.suffix in {".html", ".js", ".css", ".svg"}:
            addresses = set(re.findall(r"https?://[^\s\"'`)]+", path.read_text()))
            outside = {a for a in addresses if not a.startswith(YOUTUBE_LINKS)}
            assert outside <= {"http://www.w3.org/2000/svg"}, (path.name, outside)


async def test_a_missing_file_answers_404_in_the_one_error_shape(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/static/missing.js")

    assert_error(response, 404, "not_found")
    assert policy(response) == {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}


async def test_the_page_is_not_part_of_the_api_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    assert "/" not in paths
    assert not any(path.startswith("/static") for path in paths)


async def test_the_files_are_checked_again_before_each_use(client: httpx.AsyncClient) -> None:
    """A new version of the page never runs beside an old module kept in the browser's cache."""
    first = await client.get("/static/app.js")

    again = await client.get("/static/app.js", headers={"If-None-Match": first.headers["etag"]})

    assert first.headers["cache-control"] == "no-cache"
    assert (await client.get("/")).headers["cache-control"] == "no-cache"
    assert again.status_code == 304
