"""`make audit` (run by CI) audits every locked package, runtime and development alike, and fails
on a known vulnerability or when it cannot ask: here against a fake OSV service on loopback,
named by OSV_URL as the real one would be."""

import asyncio
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.core.config import BACKEND_DIR
from testkit.llm_server import serving

pytestmark = pytest.mark.slow

REPOSITORY = BACKEND_DIR.parent
ADVISORY = "PYSEC-0000-FAKE1"


@dataclass
class FakeOSV:
    """Answers OSV's /v1/query: an advisory for each package in `vulnerable`, none otherwise;
    or `status` for every query when it is set."""

    vulnerable: set[str] = field(default_factory=set)
    status: int | None = None
    asked: list[str] = field(default_factory=list)

    def routes(self) -> list[Route]:
        return [Route("/v1/query", self.query, methods=["POST"])]

    async def query(self, request: Request) -> Response:
        name = (await request.json())["package"]["name"]
        self.asked.append(name)
        if self.status is not None:
            return JSONResponse({"message": "unavailable"}, self.status)
        if name not in self.vulnerable:
            return JSONResponse({})
        return JSONResponse({"vulns": [advisory(name)]})


def advisory(package: str) -> dict[str, Any]:
    fixed = {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "999.0"}]}
    return {
        "id": ADVISORY,
        "summary": "a test advisory",
        "affected": [{"package": {"name": package, "ecosystem": "PyPI"}, "ranges": [fixed]}],
    }


@pytest.fixture
async def osv() -> AsyncIterator[tuple[FakeOSV, str]]:
    fake = FakeOSV()
    async with serving(fake) as base_url:
        yield fake, f"{base_url}/query"


async def make_audit(osv_url: str) -> subprocess.CompletedProcess[str]:
    # In a thread: the fake service answers on this test's event loop.
    return await asyncio.to_thread(
        subprocess.run,
        ["make", "--no-print-directory", "audit", f"OSV_URL={osv_url}"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
    )


async def test_every_locked_package_is_asked_about(osv: tuple[FakeOSV, str]) -> None:
    fake, url = osv
    audit = await make_audit(url)

    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "No known vulnerabilities found" in audit.stdout + audit.stderr
    assert {"fastapi", "asyncpg", "pytest", "pip-audit"} <= set(fake.asked)  # both groups


async def test_a_known_vulnerability_fails_the_audit(osv: tuple[FakeOSV, str]) -> None:
    fake, url = osv
    fake.vulnerable = {"starlette"}
    audit = await make_audit(url)

    assert audit.returncode != 0
    assert "starlette" in audit.stdout
    assert ADVISORY in audit.stdout


async def test_an_audit_that_cannot_ask_fails(osv: tuple[FakeOSV, str]) -> None:
    fake, url = osv
    fake.status = 503
    audit = await make_audit(url)

    assert audit.returncode != 0
    assert fake.asked  # it asked, and did not take no answer for "nothing known"
