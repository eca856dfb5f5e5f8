"""The app's hot reads against a bare server doing the same SQL, loaded by `wrk`.

`wrk` is a compiled load generator: it needs a few percent of a core where an httpx client
needed all of one, so the bare server's figures are the server's, not the generator's. Its CPU
share is reported beside each run. Install it with `apt-get install wrk` (Debian, Ubuntu) or
`brew install wrk`.

- `app`: the real application under uvicorn, with its middleware, dependencies and models;
- `bare`: `benchmarks.bare_server:bare_app`, Starlette on a raw asyncpg pool, running the same
  queries (the bearer lookup joining session and user, the page, its count) for the same JSON.

GET /api/v1/conversations (a page of 20 of 50) and GET …/messages (20 of 200 messages) are
each loaded with 1, 10 and 50 connections, app and bare alternated A B B A so that drift on a
shared machine falls on both alike; then with as many uvicorn workers as cores at 50. Each run
is `RUN_SECONDS` long after a warm-up. Figures are medians of the two runs of each side.

Beside the workers' scaling, the table says how much the cores allow: the app's, PostgreSQL's
(the embedded server's processes) and wrk's CPU per request, measured with one worker, bound
what any number of workers can serve on this machine.

    cd backend && .venv/bin/python -m benchmarks.http_wrk
"""

import asyncio
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from benchmarks.bare_server import API
from benchmarks.harness import (
    Server,
    check_running,
    expect,
    machine_busy_share,
    process_tree_cpu_seconds,
    run_database_benchmark,
    uvicorn_server,
    wait_until_ready,
)
from benchmarks.http_load import (
    APP_TARGET,
    BARE_TARGET,
    SERVER_SETTINGS,
    new_conversation,
    sign_in,
)
from benchmarks.repositories import server_url, throwaway_database

RUN_SECONDS = 5
WARMUP_SECONDS = 1
CONCURRENCIES = (1, 10, 50)
CONVERSATIONS = 50
MESSAGES = 200
PAGE = 20
CORES = os.cpu_count() or 1

# Targets (the performance issue): ratios to the bare server at 10 connections, one worker.
MIN_APP_TO_BARE = 0.5
MAX_P99_TO_P50 = 3.0
MAX_P99_MS_AT_50 = 100.0
MIN_WORKER_SCALING = 1.6

_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_FAILED = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_TIMEOUTS = re.compile(r"Socket errors:.*timeout (\d+)")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Run:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms_per_request: float
    database_cpu_ms_per_request: float | None
    generator_cpu_ms_per_request: float
    generator_cpu_share: float
    timeouts: int


@dataclass(frozen=True)
class Comparison:
    endpoint: str
    connections: int
    workers: int
    app: list[Run]
    bare: list[Run]

    def figure(self, side: str, name: str) -> float:
        runs = self.app if side == "app" else self.bare
        return float(median(getattr(run, name) for run in runs))

    @property
    def ratio(self) -> float:
        return self.figure("app", "requests_per_second") / self.figure(
            "bare", "requests_per_second"
        )


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        sys.exit(
            "wrk is not installed: `apt-get install wrk` (Debian, Ubuntu), `brew install wrk`."
        )
    return path


def parse_wrk(output: str) -> tuple[float, float, float, int]:
    """(req/s, p50 ms, p99 ms, requests that timed out after 2 s) from `wrk --latency`; an
    error when any request was answered with an error."""
    if failed := _FAILED.search(output):
        raise RuntimeError(f"wrk saw failed requests: {failed.group(0)}\n{output}")
    timeouts = _TIMEOUTS.search(output)
    latencies = {
        int(p): float(value) * _UNIT_MS[unit] for p, value, unit in _LATENCY.findall(output)
    }
    rate = _RATE.search(output)
    if rate is None or set(latencies) != {50, 99}:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return float(rate.group(1)), latencies[50], latencies[99], int(timeouts[1] if timeouts else 0)


def wrk(wrk_path: str, url: str, token: str, connections: int, seconds: int) -> tuple[str, float]:
    """wrk's output and the CPU seconds it used."""
    auth = f"Authorization: Bearer {token}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(  # noqa: S603 (the wrk found on PATH, fixed arguments)
        [wrk_path, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", auth, url],
        capture_output=True,
        text=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return completed.stdout, cpu


def postmaster_pid(database_url: str) -> int | None:
    """The embedded server's main process (its socket folder is its data folder); None for a
    server elsewhere, whose CPU this machine cannot see."""
    socket_folder = make_url(database_url).query.get("host")
    if not isinstance(socket_folder, str):
        return None
    try:
        return int((Path(socket_folder) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def database_cpu_seconds(pid: int | None) -> float | None:
    return None if pid is None else process_tree_cpu_seconds(pid, reaped_children=True)


async def measure(
    wrk_path: str, server: Server, path: str, token: str, connections: int, database: int | None
) -> Run:
    url = server.base_url + path
    await asyncio.to_thread(wrk, wrk_path, url, token, connections, WARMUP_SECONDS)
    cpu_before = process_tree_cpu_seconds(server.process.pid) or 0.0
    database_before = database_cpu_seconds(database)
    output, generator_cpu = await asyncio.to_thread(
        wrk, wrk_path, url, token, connections, RUN_SECONDS
    )
    server_cpu = (process_tree_cpu_seconds(server.process.pid) or 0.0) - cpu_before
    database_after = database_cpu_seconds(database)
    check_running(server)
    rate, p50, p99, timeouts = parse_wrk(output)
    requests = max(rate * RUN_SECONDS, 1.0)
    database_ms = (
        None
        if database_before is None or database_after is None
        else (database_after - database_before) * 1000 / requests
    )
    return Run(
        rate,
        p50,
        p99,
        server_cpu * 1000 / requests,
        database_ms,
        generator_cpu * 1000 / requests,
        generator_cpu / RUN_SECONDS,
        timeouts,
    )


async def compare(
    wrk_path: str,
    servers: tuple[Server, Server],
    endpoint: tuple[str, str],
    token: str,
    connections: int,
    workers: int,
    database: int | None,
) -> Comparison:
    """A B B A: app, bare, bare, app."""
    app, bare = servers
    name, path = endpoint
    runs: dict[str, list[Run]] = {"app": [], "bare": []}
    for server in (app, bare, bare, app):
        runs[server.name].append(
            await measure(wrk_path, server, path, token, connections, database)
        )
    return Comparison(name, connections, workers, runs["app"], runs["bare"])


async def set_up(app: Server) -> tuple[str, list[tuple[str, str]]]:
    """A user with CONVERSATIONS conversations, one of them holding MESSAGES messages."""
    async with httpx.AsyncClient(base_url=app.base_url, timeout=30, trust_env=False) as client:
        token = await sign_in(client)
        client.headers["Authorization"] = f"Bearer {token}"
        for n in range(CONVERSATIONS - 1):
            await new_conversation(client, f"Conversation {n}")
        long_id = await new_conversation(client, "The long one")
        messages = f"{API}/conversations/{long_id}/messages"
        for n in range(MESSAGES // 2):  # each question is stored with its answer
            await expect(client.post(messages, json={"content": f"Message {n}"}), 201)
    endpoints = [
        ("GET /conversations", f"{API}/conversations?limit={PAGE}"),
        ("GET …/messages", f"{messages}?limit={PAGE}"),
    ]
    return token, endpoints


async def load(
    wrk_path: str,
    database_url: str,
    workers: int,
    connections: Sequence[int],
    fixture: tuple[str, list[tuple[str, str]]] | None,
) -> tuple[tuple[str, list[tuple[str, str]]], list[Comparison]]:
    with (
        uvicorn_server("app", APP_TARGET, database_url, SERVER_SETTINGS, workers) as app,
        uvicorn_server("bare", BARE_TARGET, database_url, SERVER_SETTINGS, workers) as bare,
    ):
        await asyncio.gather(wait_until_ready(app), wait_until_ready(bare))
        fixture = fixture or await set_up(app)
        database = postmaster_pid(database_url)
        token, endpoints = fixture
        comparisons = [
            await compare(wrk_path, (app, bare), endpoint, token, count, workers, database)
            for endpoint in endpoints
            for count in connections
        ]
    return fixture, comparisons


def verdict(passed: bool) -> str:
    return "[green]PASS[/]" if passed else "[red]FAIL[/]"


def database_figure(comparison: Comparison) -> str:
    if any(run.database_cpu_ms_per_request is None for run in comparison.app):
        return "?"
    return f"{comparison.figure('app', 'database_cpu_ms_per_request'):.2f}"


def results_table(comparisons: Sequence[Comparison]) -> Table:
    table = Table(title="app vs bare, same SQL, loaded by wrk (medians of A B B A)")
    for header in (
        "endpoint",
        "workers",
        "conns",
        "app req/s",
        "bare req/s",
        "app/bare",
        "app p50/p99 ms",
        "bare p50/p99 ms",
        "app CPU ms/req",
        "bare CPU ms/req",
        "db CPU ms/req (app)",
        "wrk CPU",
        "timeouts",
    ):
        table.add_column(header, justify="left" if header == "endpoint" else "right")
    for c in comparisons:
        table.add_row(
            c.endpoint,
            str(c.workers),
            str(c.connections),
            f"{c.figure('app', 'requests_per_second'):.0f}",
            f"{c.figure('bare', 'requests_per_second'):.0f}",
            f"{c.ratio:.2f}",
            f"{c.figure('app', 'p50_ms'):.1f} / {c.figure('app', 'p99_ms'):.1f}",
            f"{c.figure('bare', 'p50_ms'):.1f} / {c.figure('bare', 'p99_ms'):.1f}",
            f"{c.figure('app', 'server_cpu_ms_per_request'):.2f}",
            f"{c.figure('bare', 'server_cpu_ms_per_request'):.2f}",
            database_figure(c),
            f"{max(r.generator_cpu_share for r in c.app + c.bare):.0%}",
            f"{sum(r.timeouts for r in c.app)} / {sum(r.timeouts for r in c.bare)}",
        )
    return table


def cpu_ceiling(one_worker: Comparison) -> str:
    """The most any number of workers could serve on this machine's cores, as a multiple of one
    worker's rate: every request costs the app, PostgreSQL and wrk their CPU per request (as
    measured with one worker), and the cores can give no more than CORES seconds a second."""
    database = [run.database_cpu_ms_per_request for run in one_worker.app]
    if None in database:
        return "?: the database's CPU is not visible"
    per_request_ms = (
        one_worker.figure("app", "server_cpu_ms_per_request")
        + one_worker.figure("app", "database_cpu_ms_per_request")
        + one_worker.figure("app", "generator_cpu_ms_per_request")
    )
    most = CORES * 1000 / per_request_ms
    return f"{most / one_worker.figure('app', 'requests_per_second'):.2f} x"


def targets_table(one: Sequence[Comparison], many: Sequence[Comparison]) -> Table:
    table = Table(title="targets (one worker unless named)")
    for header in ("target", "figure", ""):
        table.add_column(header)

    def find(runs: Sequence[Comparison], endpoint: str, connections: int) -> Comparison:
        return next(c for c in runs if c.endpoint == endpoint and c.connections == connections)

    for endpoint in dict.fromkeys(c.endpoint for c in one):
        at_10, at_50 = find(one, endpoint, 10), find(one, endpoint, 50)
        spread = at_10.figure("app", "p99_ms") / at_10.figure("app", "p50_ms")
        tail = at_50.figure("app", "p99_ms")
        rows = [
            (
                f"{endpoint}: app/bare at 10 ≥ {MIN_APP_TO_BARE}",
                f"{at_10.ratio:.2f}",
                at_10.ratio >= MIN_APP_TO_BARE,
            ),
            (
                f"{endpoint}: app p99 ≤ {MAX_P99_TO_P50:.0f} x p50 at 10",
                f"{spread:.1f} x",
                spread <= MAX_P99_TO_P50,
            ),
            (
                f"{endpoint}: app p99 at 50 < {MAX_P99_MS_AT_50:.0f} ms",
                f"{tail:.1f} ms",
                tail < MAX_P99_MS_AT_50,
            ),
        ]
        if many:
            scaled = find(many, endpoint, 50).figure("app", "requests_per_second")
            scaling = scaled / at_50.figure("app", "requests_per_second")
            rows.append(
                (
                    f"{endpoint}: {CORES} workers ≥ {MIN_WORKER_SCALING} x one at 50",
                    f"{scaling:.2f} x (CPU allows {cpu_ceiling(at_50)})",
                    scaling >= MIN_WORKER_SCALING,
                )
            )
        for name, figure, passed in rows:
            table.add_row(name, figure, verdict(passed))
    return table


async def benchmark() -> None:
    wrk_path = require_wrk()
    started = time.perf_counter()
    busy = await machine_busy_share()
    async with throwaway_database(server_url()) as database_url:
        fixture, one = await load(wrk_path, database_url, 1, CONCURRENCIES, None)
        many: list[Comparison] = []
        if CORES > 1:
            _, many = await load(wrk_path, database_url, CORES, (50,), fixture)
    console = Console(width=170)
    console.print(results_table([*one, *many]))
    console.print(targets_table(one, many))
    console.print(
        f"machine busy before the run: {busy}; took {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    run_database_benchmark(benchmark)
