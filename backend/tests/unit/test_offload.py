"""The pools' work runs below the event loop's scheduling priority (app/core/offload.py), so that
on busy cores the kernel runs the loop first; the loop's own thread keeps its priority."""

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from app.core.config import BACKEND_DIR
from app.core.offload import (
    BACKGROUND_NICENESS,
    run_in_process,
    run_in_thread,
    shutdown_pools,
    start_pool_process,
)
from app.services.chapters.finding import outline
from app.services.transcript_text import prepare_text

MAX_NICENESS = 19


@pytest.fixture(autouse=True)
def fresh_pools() -> Iterator[None]:
    """Pools started by these tests, with the initializers under test; stopped after each."""
    shutdown_pools()
    yield
    shutdown_pools()


def thread_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def lowered(niceness: int) -> int:
    return min(MAX_NICENESS, niceness + BACKGROUND_NICENESS)


async def test_a_pool_process_runs_below_the_event_loop() -> None:
    assert await run_in_process(os.nice, 0) == lowered(os.nice(0))


def signal_self(signum: int) -> str:
    os.kill(os.getpid(), signum)
    return "still here"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_a_signal_to_the_process_group_leaves_the_work_to_finish(signum: int) -> None:
    """Ctrl-C, or a service manager's SIGTERM to the whole group, reaches the pool's processes
    too: the parse of an upload under way finishes, and the server stops its pool after."""
    assert await run_in_process(signal_self, signum) == "still here"


@pytest.mark.skipif(sys.platform != "linux", reason="only Linux keeps a niceness per thread")
async def test_a_pool_thread_runs_below_the_event_loop_which_keeps_its_own() -> None:
    loop_niceness = thread_niceness()

    assert await run_in_thread(thread_niceness) == lowered(loop_niceness)
    assert thread_niceness() == loop_niceness


async def test_ctrl_c_as_a_pool_process_starts_does_not_break_the_work() -> None:
    """A terminal's Ctrl-C reaches the whole process group, a pool process still starting
    (hundreds of milliseconds of Python's start) included: it ended the process, broke the pool
    and answered the first upload with a 500."""
    before = {process.pid for process in multiprocessing.active_children()}
    work = asyncio.create_task(run_in_process(os.getpid))
    await asyncio.sleep(0)  # the task runs up to its await: the pool has started its process
    started = [p for p in multiprocessing.active_children() if p.pid not in before]
    for process in started:
        assert process.pid is not None
        os.kill(process.pid, signal.SIGINT)

    assert started
    assert await work in {process.pid for process in started}


HEAVY = ("sqlalchemy", "asyncpg", "fastapi", "starlette", "uvicorn", "httpx", "app.db")
# What a pool process is handed: its initializer and the work the app sends it.
POOL_FUNCTIONS = (start_pool_process, prepare_text, outline)
POOL_IMPORTS = (
    "import importlib, sys\n"
    f"for module in {['app.serve', *(f.__module__ for f in POOL_FUNCTIONS)]!r}:\n"
    "    importlib.import_module(module)\n"
    f"print(*[name for name in {HEAVY!r} if name in sys.modules])\n"
)


def test_a_pool_process_imports_neither_the_database_nor_the_web_stack() -> None:
    """A pool process imports its parent's main module (`app.serve`, under `make run`), the
    initializer's and the work's: a transcript's preparation, its chapters' finding. Keeping the
    database and the web stack out of them saves each pool process about 1 s of CPU as it
    starts."""
    assert prepare_text.__module__ == "app.services.transcript_text"
    assert outline.__module__ == "app.services.chapters.finding"
    imported = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", POOL_IMPORTS],
        cwd=BACKEND_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.split() == []
