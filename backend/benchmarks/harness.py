"""What the HTTP benchmarks share: a server process on a free loopback port, started and stopped
around a block, and the CPU accounting read from /proc.

The throw-away database the servers use comes from `benchmarks.repositories`
(`throwaway_database(server_url())`): created and migrated before the block, dropped after it.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from app.core.config import BACKEND_DIR

HOST = "127.0.0.1"
STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0

T = TypeVar("T")


@dataclass(frozen=True)
class Server:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def output(self) -> str:
        """What the server has written so far."""
        # pread leaves the file offset, which the child shares, where the child expects it.
        size = os.fstat(self.log.fileno()).st_size
        return os.pread(self.log.fileno(), size, 0).decode(errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check_running(server: Server) -> None:
    """Stop the run when a server has died: every request after it would only fail to connect."""
    exit_code = server.process.poll()
    if exit_code is not None:
        raise RuntimeError(f"the {server.name} server exited with {exit_code}")


@contextmanager
def server_process(
    name: str, arguments: Sequence[str], environment: Mapping[str, str], port: int
) -> Iterator[Server]:
    """`python ARGUMENTS` from backend/, with `environment` over ours, listening on `port`;
    stopped (SIGTERM, then SIGKILL after 10 s) when the block exits."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
            [sys.executable, *arguments],
            cwd=BACKEND_DIR,
            env={**os.environ, **environment},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = Server(name, f"http://{HOST}:{port}", process, log)
        try:
            yield server
        except Exception:
            # Whatever went wrong, the server's traceback usually says why: show it.
            print(f"--- the {name} server's output ---\n{server.output()[-3000:]}", file=sys.stderr)
            raise
        finally:
            stop(process)


@contextmanager
def uvicorn_server(
    name: str,
    target: Sequence[str],
    database_url: str,
    settings: Mapping[str, str],
    workers: int = 1,
) -> Iterator[Server]:
    """`python -m uvicorn TARGET` (warnings only) on a free loopback port."""
    port = free_port()
    arguments = ["-m", "uvicorn", *target, "--host", HOST, "--port", str(port)]
    arguments += ["--log-level", "warning", "--workers", str(workers)]
    environment = {**settings, "DATABASE_URL": database_url}
    with server_process(name, arguments, environment, port) as server:
        yield server


@contextmanager
def app_server(database_url: str, settings: Mapping[str, str]) -> Iterator[Server]:
    """`python -m app.serve`, as `make run` serves the app (the app's own logging), on a free
    loopback port: one worker process unless `settings` names WORKERS."""
    port = free_port()
    environment = {"WORKERS": "1", **settings, "DATABASE_URL": database_url, "HOST": HOST}
    environment["PORT"] = str(port)
    with server_process("app", ["-m", "app.serve"], environment, port) as server:
        yield server


async def wait_until_ready(server: Server) -> None:
    """Until GET /health/db answers 200; RuntimeError if the server exits or takes too long."""
    deadline = time.perf_counter() + STARTUP_TIMEOUT_SECONDS
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as client:
        while time.perf_counter() < deadline:
            if server.process.poll() is not None:
                break
            try:
                if (await client.get("/health/db")).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            await asyncio.sleep(0.1)
    check_running(server)
    raise RuntimeError(f"the {server.name} server was not ready in {STARTUP_TIMEOUT_SECONDS:.0f} s")


def stat_cpu_seconds(stat_path: str, *, reaped_children: bool = False) -> float | None:
    """User + system CPU time from a /proc/.../stat file; None when it cannot be read. With
    `reaped_children`, also that of the children it has waited for (ended connections'
    backends, for a PostgreSQL postmaster)."""
    try:
        stat = Path(stat_path).read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name: utime, stime, cutime and cstime are the
    # 12th to the 15th.
    fields = [int(field) for field in stat.rsplit(")", 1)[1].split()[11:15]]
    ticks = sum(fields) if reaped_children else fields[0] + fields[1]
    return ticks / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (all its threads) so far; None where there is no
    /proc."""
    return stat_cpu_seconds(f"/proc/{pid}/stat")


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is `pid` (uvicorn's workers, a server's pool workers)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if parent == pid:
            children.append(int(stat.parent.name))
    return children


def process_tree_cpu_seconds(pid: int, *, reaped_children: bool = False) -> float | None:
    """CPU time of a process and its live children so far (and of its ended children, with
    `reaped_children`)."""
    own = stat_cpu_seconds(f"/proc/{pid}/stat", reaped_children=reaped_children)
    if own is None:
        return None
    return own + sum(process_cpu_seconds(child) or 0.0 for child in child_pids(pid))


def cpu_ticks() -> tuple[int, int] | None:
    """The machine's (busy, total) CPU ticks since boot; None where there is no /proc."""
    try:
        first_line = Path("/proc/stat").read_text().splitlines()[0]
    except OSError:
        return None
    ticks = [int(value) for value in first_line.split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


async def machine_busy_share(seconds: float = 0.5) -> str:
    """How busy all CPUs were over `seconds`, as a percentage."""
    before = cpu_ticks()
    await asyncio.sleep(seconds)
    after = cpu_ticks()
    if before is None or after is None or after[1] == before[1]:
        return "unknown"
    return f"{(after[0] - before[0]) / (after[1] - before[1]):.0%}"


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when it is installed, as uvicorn does."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def run_database_benchmark(benchmark: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a benchmark that works on a throw-away database of the embedded server."""
    # The embedded server is stopped at exit, outside start_embedded_postgres's own filter.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    # SIGTERM would skip the finally blocks that drop the database; like Ctrl-C, it runs them.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    return run(benchmark())


async def expect(request: Awaitable[httpx.Response], status_code: int) -> Any:
    """The JSON of a set-up request's answer; a clear error when its status is another."""
    response = await request
    if response.status_code != status_code:
        raise RuntimeError(
            f"setup: {response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {status_code}: {response.text[:500]}"
        )
    return response.json()
