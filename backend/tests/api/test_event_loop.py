"""The event loop stays free while CPU-heavy requests run: password hashing, caption parsing and
chunking happen in pools (app/core/offload.py), so other requests keep being answered."""

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import coverage
import httpx
import pytest
from argon2 import PasswordHasher

from app.core import security
from tests.api.conftest import PASSWORD, Account

pytestmark = pytest.mark.slow

# Far above what the loop's own work takes (under 0.03 s for the upload below, measured as a
# server runs: see as_a_server_runs), far below one Argon2 hash or the parsing of the file
# below done on the loop (each about half a second or more). Each test first sends its requests
# once unmeasured: FastAPI prepares a route on its first request, and the first offloaded call
# starts its pool.
MAX_LAG_SECONDS = 0.1
TICK_SECONDS = 0.005


@contextmanager
def as_a_server_runs() -> Iterator[None]:
    """The loop's own work, without what the suite adds to it: coverage's tracer (the same code
    takes several times the CPU traced) and the garbage collector walking the suite's heap
    (coverage's data and every earlier test's objects: one collection cost 0.15 s here, a
    server's a small part of it). The heap is frozen, so a collection walks only what the
    measured work creates."""
    measuring = coverage.Coverage.current()
    if measuring is not None:
        measuring.stop()
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if measuring is not None:
            measuring.start()


async def longest_stall(work: Callable[[], Awaitable[None]]) -> float:
    """The most CPU time the loop's thread spent between two ticks of a 5 ms timer while `work`
    ran. Work done on the loop (a hash, a parse) shows there in full; time the kernel gave to
    other processes on a busy machine does not, so the figure does not depend on the load."""
    stalls: list[float] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            started = time.thread_time()  # the loop's thread: watch() runs on it
            await asyncio.sleep(TICK_SECONDS)
            stalls.append(time.thread_time() - started)

    with as_a_server_runs():
        watcher = asyncio.create_task(watch())
        try:
            await work()
        finally:
            done.set()
            await watcher
    return max(stalls)


def srt_time(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d},000"


def large_srt(cues: int) -> bytes:
    lines = []
    for n in range(cues):
        lines += [
            str(n + 1),
            f"{srt_time(n * 3)} --> {srt_time(n * 3 + 3)}",
            f"people were talking about item number {n} and what it means for them today",
            "",
        ]
    return "\n".join(lines).encode()


def use_costly_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at a production-like cost (the suite otherwise runs it at its cheapest)."""
    hasher = PasswordHasher(time_cost=12, memory_cost=65_536, parallelism=1)
    monkeypatch.setattr(security, "password_hasher", lambda: hasher)
    monkeypatch.setattr(security, "_dummy_hash", None, raising=False)


async def test_registering_and_logging_in_leave_the_loop_free(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = "loop-free@example.com"
    credentials = {"email": email, "password": PASSWORD}

    # The warm-up only prepares the routes and starts the pool: cheap hashes do it.
    unknown = {"email": "nobody-here@example.com", "password": PASSWORD}
    await client.post("/api/v1/auth/register", json={**credentials, "email": "warm@example.com"})
    await client.post("/api/v1/auth/login", json=unknown)
    use_costly_hashing(monkeypatch)

    async def sign_up_and_in() -> None:
        registered = await client.post("/api/v1/auth/register", json=credentials)
        assert registered.status_code < 300, registered.text
        for password in (PASSWORD, "a wrong password here"):
            await client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert (await client.post("/api/v1/auth/login", json=unknown)).status_code == 401

    assert await longest_stall(sign_up_and_in) < MAX_LAG_SECONDS


async def test_a_large_caption_upload_leaves_the_loop_free(
    client: httpx.AsyncClient, alice: Account
) -> None:
    async def upload(video: str, content: bytes) -> None:
        response = await client.post(
            "/api/v1/transcripts/upload",
            data={"video": video},
            files={"file": ("talk.srt", content, "application/x-subrip")},
            headers=alice.headers,
        )
        assert response.status_code == 201, response.text

    await upload("smallcapti1", large_srt(10))
    content = large_srt(20_000)  # about 1.6 MB, 300,000 words
    assert await longest_stall(lambda: upload("bigcaption1", content)) < MAX_LAG_SECONDS
