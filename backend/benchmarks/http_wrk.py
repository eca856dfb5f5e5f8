"""The app's hot reads against a bare server doing the same SQL, loaded by `wrk`.

`wrk` needs a few percent of a core where an httpx client needed all of one, so the bare
server's figures are the server's, not the generator's; its CPU share is reported beside each
run. `app` is the application under uvicorn; `bare` is harness/bare/ (Starlette on a
raw asyncpg pool, the same queries for the same JSON).

GET /api/v1/conversations (a page of 20 of 50) and GET …/messages (20 of 200 messages) are each
loaded with 1, 10 and 50 connections, app and bare alternated A B B A so that drift on a shared
machine falls on both alike; then with as many uvicorn workers as cores at 50. Each run is
RUN_SECONDS after a warm-up; figures are medians of the two runs of each side. The app's,
PostgreSQL's (the embedded server's processes) and wrk's CPU per request, measured with one
worker, bound what any number of workers can serve on this machine.

    cd backend && .venv/bin/python -m benchmarks.http_wrk
"""

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import httpx
from rich.table import Table
from sqlalchemy.engine import make_url

from benchmarks.harness import database as db
from benchmarks.harness import machine, report
from benchmarks.harness.api import API, conversations, sign_in
from benchmarks.harness.load import INSTALL_WRK, Call, wrk, wrk_path
from benchmarks.harness.runner import run_benchmark
from benchmarks.harness.servers import (
    APP_TARGET,
    BARE_TARGET,
    CHEAP_SETTINGS,
    Server,
    check_running,
    uvicorn_server,
    wait_until_ready,
)

RUN_SECONDS = 5
WARMUP_SECONDS = 1
CONCURRENCIES = (1, 10, 50)
CONVERSATIONS = 50
MESSAGES = 200
PAGE = 20

# Targets (the performance issue): ratios to the bare server at 10 connections, one worker.
MIN_APP_TO_BARE = 0.5
MAX_P99_TO_P50 = 3.0
MAX_P99_MS_AT_50 = 100.0
MIN_WORKER_SCALING = 1.6

Fixture = tuple[dict[str, str], list[tuple[str, str]]]  # the bearer header, the endpoints


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

    def both(self, name: str, form: str) -> list[str]:
        return [format(self.figure(side, name), form) for side in ("app", "bare")]

    @property
    def ratio(self) -> float:
        return self.figure("app", "requests_per_second") / self.figure(
            "bare", "requests_per_second"
        )


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
    return None if pid is None else machine.process_tree_cpu_seconds(pid, reaped_children=True)


async def measure(
    server: Server, path: str, headers: dict[str, str], connections: int, database: int | None
) -> Run:
    call = Call("GET", path)
    await asyncio.to_thread(wrk, server.base_url, call, headers, connections, WARMUP_SECONDS)
    cpu_before = machine.process_tree_cpu_seconds(server.process.pid) or 0.0
    database_before = database_cpu_seconds(database)
    run = await asyncio.to_thread(wrk, server.base_url, call, headers, connections, RUN_SECONDS)
    server_cpu = (machine.process_tree_cpu_seconds(server.process.pid) or 0.0) - cpu_before
    database_after = database_cpu_seconds(database)
    check_running(server)
    if run.failed:
        raise RuntimeError(f"wrk saw {run.failed} failed requests:\n{run.output}")
    requests = max(run.requests_per_second * RUN_SECONDS, 1.0)
    database_ms = None
    if database_before is not None and database_after is not None:
        database_ms = (database_after - database_before) * 1000 / requests
    return Run(
        run.requests_per_second,
        run.p50_ms,
        run.p99_ms,
        server_cpu * 1000 / requests,
        database_ms,
        run.cpu_seconds * 1000 / requests,
        run.cpu_seconds / RUN_SECONDS,
        run.timeouts,
    )


async def set_up(app: Server) -> Fixture:
    """A user with CONVERSATIONS conversations, one of them holding MESSAGES messages."""
    async with httpx.AsyncClient(base_url=app.base_url, timeout=30, trust_env=False) as client:
        headers = await sign_in(client)
        client.headers.update(headers)
        _, long_id = await conversations(client, CONVERSATIONS - 1, MESSAGES // 2)
    messages = f"{API}/conversations/{long_id}/messages?limit={PAGE}"
    conversation_page = f"{API}/conversations?limit={PAGE}"
    return headers, [("GET /conversations", conversation_page), ("GET …/messages", messages)]


async def load(
    database_url: str, workers: int, connections: Sequence[int], fixture: Fixture | None
) -> tuple[Fixture, list[Comparison]]:
    """Each endpoint at each count of connections, A B B A: app, bare, bare, app."""
    with (
        uvicorn_server("app", APP_TARGET, database_url, CHEAP_SETTINGS, workers) as app,
        uvicorn_server("bare", BARE_TARGET, database_url, CHEAP_SETTINGS, workers) as bare,
    ):
        await wait_until_ready(app, bare)
        fixture = fixture or await set_up(app)
        database = postmaster_pid(database_url)
        headers, endpoints = fixture
        comparisons = []
        for name, path in endpoints:
            for count in connections:
                runs: dict[str, list[Run]] = {"app": [], "bare": []}
                for server in (app, bare, bare, app):
                    runs[server.name].append(await measure(server, path, headers, count, database))
                comparisons.append(Comparison(name, count, workers, runs["app"], runs["bare"]))
    return fixture, comparisons


def results_table(comparisons: Sequence[Comparison]) -> Table:
    rows = []
    for c in comparisons:
        database = "?"
        if all(run.database_cpu_ms_per_request is not None for run in c.app):
            database = f"{c.figure('app', 'database_cpu_ms_per_request'):.2f}"
        p50s, p99s = c.both("p50_ms", ".1f"), c.both("p99_ms", ".1f")
        rows.append([
            c.endpoint, str(c.workers), str(c.connections), *c.both("requests_per_second", ".0f"),
            f"{c.ratio:.2f}", *(f"{p50} / {p99}" for p50, p99 in zip(p50s, p99s, strict=True)),
            *c.both("server_cpu_ms_per_request", ".2f"), database,
            f"{max(r.generator_cpu_share for r in c.app + c.bare):.0%}",
            f"{sum(r.timeouts for r in c.app)} / {sum(r.timeouts for r in c.bare)}",
        ])  # fmt: skip
    return report.table(
        "app vs bare, same SQL, loaded by wrk (medians of A B B A)",
        ("endpoint", "workers", "conns", "app req/s", "bare req/s", "app/bare", "app p50/p99 ms",
         "bare p50/p99 ms", "app CPU ms/req", "bare CPU ms/req", "db CPU ms/req (app)", "wrk CPU",
         "timeouts"),
        rows,
    )  # fmt: skip


def cpu_ceiling(one_worker: Comparison) -> str:
    """The most any number of workers could serve on this machine's cores, as a multiple of one
    worker's rate: every request costs the app, PostgreSQL and wrk their CPU per request (as
    measured with one worker), and the cores can give no more than CORES seconds a second."""
    if any(run.database_cpu_ms_per_request is None for run in one_worker.app):
        return "?: the database's CPU is not visible"
    per_request_ms = sum(
        one_worker.figure("app", f"{name}_cpu_ms_per_request")
        for name in ("server", "database", "generator")
    )
    most = machine.CORES * 1000 / per_request_ms
    return f"{most / one_worker.figure('app', 'requests_per_second'):.2f} x"


def targets_table(one: Sequence[Comparison], many: Sequence[Comparison]) -> Table:
    def find(runs: Sequence[Comparison], endpoint: str, connections: int) -> Comparison:
        return next(c for c in runs if c.endpoint == endpoint and c.connections == connections)

    rows = []
    for endpoint in dict.fromkeys(c.endpoint for c in one):
        at_10, at_50 = find(one, endpoint, 10), find(one, endpoint, 50)
        spread = at_10.figure("app", "p99_ms") / at_10.figure("app", "p50_ms")
        tail = at_50.figure("app", "p99_ms")
        rows += [
            [f"{endpoint}: app/bare at 10 ≥ {MIN_APP_TO_BARE}", f"{at_10.ratio:.2f}",
             report.verdict(at_10.ratio >= MIN_APP_TO_BARE)],
            [f"{endpoint}: app p99 ≤ {MAX_P99_TO_P50:.0f} x p50 at 10", f"{spread:.1f} x",
             report.verdict(spread <= MAX_P99_TO_P50)],
            [f"{endpoint}: app p99 at 50 < {MAX_P99_MS_AT_50:.0f} ms", f"{tail:.1f} ms",
             report.verdict(tail < MAX_P99_MS_AT_50)],
        ]  # fmt: skip
        if many:
            scaled = find(many, endpoint, 50).figure("app", "requests_per_second")
            scaling = scaled / at_50.figure("app", "requests_per_second")
            rows.append([
                f"{endpoint}: {machine.CORES} workers ≥ {MIN_WORKER_SCALING} x one at 50",
                f"{scaling:.2f} x (CPU allows {cpu_ceiling(at_50)})",
                report.verdict(scaling >= MIN_WORKER_SCALING),
            ])  # fmt: skip
    return report.table("targets (one worker unless named)", ("target", "figure", ""), rows)


async def benchmark() -> None:
    if wrk_path() is None:
        sys.exit(f"wrk is not installed: {INSTALL_WRK}.")
    busy = await machine.machine_busy_share()
    clock = machine.Clock()
    async with db.throwaway_database() as database_url:
        fixture, one = await load(database_url, 1, CONCURRENCIES, None)
        many: list[Comparison] = []
        if machine.CORES > 1:
            _, many = await load(database_url, machine.CORES, (50,), fixture)
    report.print_tables(results_table([*one, *many]), targets_table(one, many))
    report.say(f"machine busy before the run: {busy}; took {clock.seconds():.0f} s")


if __name__ == "__main__":
    run_benchmark(benchmark)
