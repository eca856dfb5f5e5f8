"""Server processes on a free loopback port, started and stopped around a block: the app as
`make run` serves it, or any uvicorn target (the bare server beside the app)."""

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import httpx

from app.core.config import BACKEND_DIR
from testkit.processes import terminate

HOST = "127.0.0.1"
STARTUP_TIMEOUT_SECONDS = 60.0
APP_TARGET = ("app.main:app",)
BARE_TARGET = ("benchmarks.harness.bare:bare_app", "--factory")
# Cheap password hashing keeps a set-up short; the throttles must not refuse a set-up's logins,
# and one user asks thousands of questions: no limits, though each is still counted.
CHEAP_SETTINGS = {
    "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST_KIB": "1024", "ARGON2_PARALLELISM": "1",
    "LOGIN_CLIENT_BACKOFF_AFTER_FAILURES": "1000000", "LIMIT_ASKS_PER_MINUTE": "0",
    "LIMIT_INGESTS_PER_HOUR": "0", "LIMIT_TOKENS_PER_DAY": "0",
}  # fmt: skip


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

    def check_running(self) -> None:
        """Stop the run when the server has died: every request after would fail to connect."""
        if (exit_code := self.process.poll()) is not None:
            raise RuntimeError(f"the {self.name} server exited with {exit_code}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def server_process(
    name: str, arguments: Sequence[str], environment: Mapping[str, str], port: int
) -> Iterator[Server]:
    """`python ARGUMENTS` from backend/, with `environment` over ours, listening on `port`;
    stopped (SIGTERM, then SIGKILL after 10 s) when the block exits."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
            [sys.executable, *arguments], cwd=BACKEND_DIR, env={**os.environ, **environment},
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        server = Server(name, f"http://{HOST}:{port}", process, log)
        try:
            yield server
        except Exception:
            # Whatever went wrong, the server's traceback usually says why: show it.
            print(f"--- the {name} server's output ---\n{server.output()[-3000:]}", file=sys.stderr)
            raise
        finally:
            if process.poll() is None:
                terminate(process, timeout=10)


@contextmanager
def uvicorn_server(
    name: str, target: Sequence[str], database_url: str, workers: int = 1
) -> Iterator[Server]:
    """`python -m uvicorn TARGET` (warnings only) with CHEAP_SETTINGS, on a free port."""
    port = free_port()
    arguments = ["-m", "uvicorn", *target, "--host", HOST, "--port", str(port)]
    arguments += ["--log-level", "warning", "--workers", str(workers)]
    environment = {**CHEAP_SETTINGS, "DATABASE_URL": database_url}
    with server_process(name, arguments, environment, port) as server:
        yield server


@contextmanager
def app_server(database_url: str, settings: Mapping[str, str]) -> Iterator[Server]:
    """`python -m app.serve`, as `make run` serves the app (its own logging), on a free port:
    one worker process unless `settings` names WORKERS."""
    port = free_port()
    environment = {"WORKERS": "1", **settings, "DATABASE_URL": database_url, "HOST": HOST}
    with server_process("app", ["-m", "app.serve"], environment | {"PORT": str(port)}, port) as s:
        yield s


async def wait_until_ready(*servers: Server) -> None:
    """Until GET /health/db answers 200 on each; RuntimeError if one exits or takes too long."""

    async def ready(server: Server) -> None:
        deadline = time.perf_counter() + STARTUP_TIMEOUT_SECONDS
        async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as client:
            while time.perf_counter() < deadline and server.process.poll() is None:
                try:
                    if (await client.get("/health/db")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                await asyncio.sleep(0.1)
        server.check_running()
        raise RuntimeError(f"the {server.name} server was not ready in time")

    await asyncio.gather(*(ready(server) for server in servers))
