"""The app's hot reads against the bare server doing the same SQL (harness/bare.py), loaded by
`wrk` (a few percent of a core, so a server's figures are the server's): GET /conversations and
GET …/messages at 1, 10 and 50 connections, app and bare alternated A B B A, then one worker
per core at 50; medians of each side's two runs, with the app's, PostgreSQL's and wrk's CPU per
request, which bound what any number of workers could serve here.

    cd backend && .venv/bin/python -m benchmarks.http_wrk
"""

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from statistics import median

import httpx
from rich.table import Table
from sqlalchemy.engine import make_url

from benchmarks.harness import database as db
from benchmarks.harness import machine, report
from benchmarks.harness.api import API, conversations, sign_in
from benchmarks.harness.load import INSTALL_WRK, Call, wrk, wrk_path
from benchmarks.harness.machine import run_benchmark
from benchmarks.harness.servers import (
    APP_TARGET,
    BARE_TARGET,
    Server,
    uvicorn_server,
    wait_until_ready,
)

RUN_SECONDS, WARMUP_SECONDS, CONCURRENCIES = 5, 1, (1, 10, 50)
# Targets: at 10 connections, one worker, unless said.
MIN_APP_TO_BARE, MAX_P99_TO_P50, MAX_P99_MS_AT_50, MIN_WORKER_SCALING = 0.5, 3.0, 100.0, 1.6

Run = dict[str, float | None]  # a wrk run's figures by name
Runs = dict[str, list[Run]]  # by side: app, bare
Results = dict[tuple[str, int, int], Runs]  # by endpoint, connections and workers
Fixture = tuple[dict[str, str], dict[str, str]]  # the bearer header, the endpoints' paths


def figure(runs: Runs, side: str, name: str) -> float:
    return float(median(run[name] or 0.0 for run in runs[side]))


def both(runs: Runs, name: str, form: str) -> list[str]:
    return [format(figure(runs, side, name), form) for side in ("app", "bare")]


def ratio(runs: Runs) -> float:
    return figure(runs, "app", "rps") / figure(runs, "bare", "rps")


def postmaster_pid(database_url: str) -> int | None:
    """The embedded server's main process (its socket folder is its data folder); None for a
    server elsewhere, whose CPU this machine cannot see."""
    socket_folder = make_url(database_url).query.get("host")
    try:
        return int((Path(str(socket_folder)) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


async def measure(server: Server, path: str, headers: dict[str, str], connections: int,
                  database: int | None) -> Run:  # fmt: skip
    def database_cpu() -> float | None:
        return (
            None
            if database is None
            else machine.process_tree_cpu_seconds(database, reaped_children=True)
        )

    call, pid = Call("GET", path), server.process.pid
    await asyncio.to_thread(wrk, server.base_url, call, headers, connections, WARMUP_SECONDS)
    cpu_before, database_before = machine.process_tree_cpu_seconds(pid) or 0.0, database_cpu()
    run = await asyncio.to_thread(wrk, server.base_url, call, headers, connections, RUN_SECONDS)
    server_cpu = (machine.process_tree_cpu_seconds(pid) or 0.0) - cpu_before
    database_after = database_cpu()
    server.check_running()
    if run.failed:
        raise RuntimeError(f"wrk saw {run.failed} failed requests:\n{run.output}")
    requests = max(run.requests_per_second * RUN_SECONDS, 1.0)
    database_ms = None
    if database_before is not None and database_after is not None:
        database_ms = (database_after - database_before) * 1000 / requests
    return {
        "rps": run.requests_per_second, "p50": run.p50_ms, "p99": run.p99_ms,
        "server_cpu": server_cpu * 1000 / requests, "database_cpu": database_ms,
        "wrk_cpu": run.cpu_seconds * 1000 / requests, "wrk_share": run.cpu_seconds / RUN_SECONDS,
        "timeouts": run.timeouts,
    }  # fmt: skip


async def load(
    database_url: str, workers: int, connections: Sequence[int], fixture: Fixture | None
) -> tuple[Results, Fixture]:
    """Each endpoint at each count of connections, A B B A: app, bare, bare, app."""
    with (
        uvicorn_server("app", APP_TARGET, database_url, workers) as app,
        uvicorn_server("bare", BARE_TARGET, database_url, workers) as bare,
    ):
        await wait_until_ready(app, bare)
        if fixture is None:  # a user with 50 conversations, one holding 200 messages
            async with httpx.AsyncClient(
                base_url=app.base_url, timeout=30, trust_env=False
            ) as client:
                headers = await sign_in(client)
                client.headers.update(headers)
                _, long_id = await conversations(client, 49, 100)
            pages = {"GET /conversations": "", "GET …/messages": f"/{long_id}/messages"}
            fixture = headers, {n: f"{API}/conversations{p}?limit=20" for n, p in pages.items()}
        headers, endpoints = fixture
        database, results = postmaster_pid(database_url), Results()
        for name, path in endpoints.items():
            for count in connections:
                runs: Runs = {"app": [], "bare": []}
                for server in (app, bare, bare, app):
                    runs[server.name].append(await measure(server, path, headers, count, database))
                results[name, count, workers] = runs
    return results, fixture


def results_table(results: Results) -> Table:
    rows = []
    for (endpoint, connections, workers), runs in results.items():
        database = "?"
        if all(run["database_cpu"] is not None for run in runs["app"]):
            database = f"{figure(runs, 'app', 'database_cpu'):.2f}"
        latencies = zip(both(runs, "p50", ".1f"), both(runs, "p99", ".1f"), strict=True)
        timeouts = [str(sum(int(run["timeouts"] or 0) for run in runs[side])) for side in runs]
        wrk_share = max(run["wrk_share"] or 0.0 for side in runs.values() for run in side)
        rows.append([
            endpoint, str(workers), str(connections), *both(runs, "rps", ".0f"),
            f"{ratio(runs):.2f}", *(f"{p50} / {p99}" for p50, p99 in latencies),
            *both(runs, "server_cpu", ".2f"), database, f"{wrk_share:.0%}", " / ".join(timeouts),
        ])  # fmt: skip
    return report.table(
        "app vs bare, same SQL, loaded by wrk (medians of A B B A)",
        ("endpoint", "workers", "conns", "app req/s", "bare req/s", "app/bare", "app p50/p99 ms",
         "bare p50/p99 ms", "app CPU ms/req", "bare CPU ms/req", "db CPU ms/req (app)", "wrk CPU",
         "timeouts"),
        rows,
    )  # fmt: skip


def targets_table(results: Results) -> Table:
    rows = []
    for endpoint in dict.fromkeys(endpoint for endpoint, _, _ in results):
        at_10, at_50 = results[endpoint, 10, 1], results[endpoint, 50, 1]
        spread = figure(at_10, "app", "p99") / figure(at_10, "app", "p50")
        tail = figure(at_50, "app", "p99")
        rows += [
            [f"{endpoint}: app/bare at 10 ≥ {MIN_APP_TO_BARE}", f"{ratio(at_10):.2f}",
             report.verdict(ratio(at_10) >= MIN_APP_TO_BARE)],
            [f"{endpoint}: app p99 ≤ {MAX_P99_TO_P50:.0f} x p50 at 10", f"{spread:.1f} x",
             report.verdict(spread <= MAX_P99_TO_P50)],
            [f"{endpoint}: app p99 at 50 < {MAX_P99_MS_AT_50:.0f} ms", f"{tail:.1f} ms",
             report.verdict(tail < MAX_P99_MS_AT_50)],
        ]  # fmt: skip
        if (many := results.get((endpoint, 50, machine.CORES))) and machine.CORES > 1:
            scaling = figure(many, "app", "rps") / figure(at_50, "app", "rps")
            # Every request costs the app, PostgreSQL and wrk their CPU per request (measured
            # with one worker), and the cores give no more than CORES seconds a second.
            ceiling = "?: the database's CPU is not visible"
            if all(run["database_cpu"] is not None for run in at_50["app"]):
                cpu = ("server_cpu", "database_cpu", "wrk_cpu")
                per_request_ms = sum(figure(at_50, "app", name) for name in cpu)
                most = machine.CORES * 1000 / per_request_ms
                ceiling = f"{most / figure(at_50, 'app', 'rps'):.2f} x"
            rows.append([f"{endpoint}: {machine.CORES} workers ≥ {MIN_WORKER_SCALING} x one at 50",
                         f"{scaling:.2f} x (CPU allows {ceiling})",
                         report.verdict(scaling >= MIN_WORKER_SCALING)])  # fmt: skip
    return report.table("targets (one worker unless named)", ("target", "figure", ""), rows)


async def benchmark() -> None:
    if wrk_path() is None:
        sys.exit(f"wrk is not installed: {INSTALL_WRK}.")
    busy, clock = await machine.machine_busy_share(), machine.Clock()
    async with db.throwaway_database() as database_url:
        results, fixture = await load(database_url, 1, CONCURRENCIES, None)
        if machine.CORES > 1:
            results |= (await load(database_url, machine.CORES, (50,), fixture))[0]
    report.print_tables(results_table(results), targets_table(results))
    report.say(f"machine busy before the run: {busy}; took {clock.seconds():.0f} s")


if __name__ == "__main__":
    run_benchmark(benchmark)
