"""The app through PgBouncer (transaction pooling) next to the app straight on PostgreSQL: four
set-ups of `python -m app.serve` (one worker; two; two with DB_PGBOUNCER alone; two through
PgBouncer with 20 server connections), each checked end to end through the API, then three
requests at concurrency 10, 5 s each, in three rounds taking turns (the median shown), loaded
by `wrk -t1` when installed, else by httpx (a floor). About four minutes:

    cd backend && .venv/bin/python -m benchmarks.pgbouncer
"""

import asyncio
import subprocess
from collections import defaultdict
from contextlib import ExitStack

import httpx

from benchmarks.harness import database as db
from benchmarks.harness import report
from benchmarks.harness.api import API, expect, new_conversation, sign_in
from benchmarks.harness.load import Call, drive, load_client, wrk, wrk_path
from benchmarks.harness.machine import machine_busy_share, run_benchmark
from benchmarks.harness.servers import app_server, wait_until_ready
from testkit.pgbouncer import pgbouncer_binary, pgbouncer_in_front

SECONDS, ROUNDS, CONCURRENCY, SERVER_CONNECTIONS = 5, 3, 10, 20
SERVER_SETTINGS = {"WORKERS": "2", "JOBS_ENABLED": "false", "EMBEDDINGS_ENABLED": "false"}
QUESTION = "How does caching trade memory for time?"
TRANSCRIPT = " ".join(
    f"Caching keeps answers close to where they are needed, part {n}. It trades memory for time."
    for n in range(40)
)


async def check_api(base_url: str) -> tuple[dict[str, str], str]:
    """The API end to end: a bearer header and a conversation holding a chat turn."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60, trust_env=False) as client:
        authorization = await sign_in(client)
        client.headers.update(authorization)
        transcript = {"video": "dQw4w9WgXcQ", "title": "On caching", "transcript_text": TRANSCRIPT}
        await expect(client.post(f"{API}/transcripts", json=transcript), 201)
        conversation = await new_conversation(client)
        path = f"{API}/conversations/{conversation}/messages"
        answer = await expect(client.post(path, json={"content": QUESTION}), 201)
        if not answer["assistant_message"]["metadata"]["grounded"]:
            raise RuntimeError(f"setup: the answer is not grounded: {answer}")
        listed = await expect(client.get(f"{API}/conversations"), 200)
        messages = await expect(client.get(path), 200)
        if listed["total"] != 1 or len(messages["items"]) != 2:
            raise RuntimeError(f"setup: listed {listed['total']} and {len(messages['items'])}")
        return authorization, conversation


async def measure(base_url: str, headers: dict[str, str], call: Call) -> tuple[float, ...]:
    """req/s, p50 ms, p99 ms and errors of SECONDS of load."""
    headers = {**headers, "Content-Type": "application/json"}
    if wrk_path():
        run = await asyncio.to_thread(wrk, base_url, call, headers, CONCURRENCY, SECONDS, "30s")
        return run.requests_per_second, run.p50_ms, run.p99_ms, run.failed + run.socket_errors
    async with load_client(base_url, CONCURRENCY, headers=headers, timeout=60) as client:
        tally = await drive(client, lambda: call, CONCURRENCY, 10**9, SECONDS)
    p50, p99 = (report.percentile_ms(tally.latencies, q) for q in (0.5, 0.99))
    return len(tally.latencies) / SECONDS, p50, p99, tally.errors


async def benchmark() -> None:
    if pgbouncer_binary() is None:
        raise SystemExit("pgbouncer is not installed: apt-get install -y pgbouncer")
    busy_before = await machine_busy_share(2.0)
    runs: dict[tuple[str, str], list[tuple[float, ...]]] = defaultdict(list)
    async with db.throwaway_database() as url:
        with ExitStack() as stack:
            through = stack.enter_context(pgbouncer_in_front(url, pool_size=SERVER_CONNECTIONS))
            targets = []  # every set-up's server, running at once (idle while another is measured)
            for name, database_url, settings in (
                ("direct, WORKERS=1", url, {"WORKERS": "1"}),
                ("direct", url, {}),
                ("direct, DB_PGBOUNCER", url, {"DB_PGBOUNCER": "true"}),
                ("pgbouncer", through, {"DB_PGBOUNCER": "true"}),
            ):
                server = stack.enter_context(app_server(database_url, SERVER_SETTINGS | settings))
                await wait_until_ready(server)
                headers, conversation = await check_api(server.base_url)
                print(f"{name}: the API works (register, log in, chat, list)")
                targets.append((name, server.base_url, headers, {
                    "GET conversations": Call("GET", f"{API}/conversations?limit=20"),
                    "GET messages": Call("GET", f"{API}/conversations/{conversation}/messages"),
                    "POST conversation": Call("POST", f"{API}/conversations", {"title": "load"}),
                }))  # fmt: skip
            # Rounds taking turns, so that the load of other users falls on every set-up alike.
            for _ in range(ROUNDS):
                for request in targets[0][3]:
                    for name, base_url, headers, calls in targets:
                        runs[name, request].append(await measure(base_url, headers, calls[request]))
    rows = []
    for (name, request), results in runs.items():
        rate, p50, p99, _ = sorted(results)[len(results) // 2]  # the median run, by req/s
        errors = sum(result[3] for result in results)
        rows.append(
            [name, request, *(f"{figure:,.1f}" for figure in (rate, p50, p99)), f"{errors:g}"]
        )
    generator = "wrk -t1" if wrk_path() else "httpx (a floor: it shares the CPUs)"
    report.print_tables(report.table(
        f"concurrency {CONCURRENCY}, {generator}, median of {ROUNDS} runs of {SECONDS} s",
        ("set-up", "request", "req/s", "p50 ms", "p99 ms", "errors"), rows,
    ))  # fmt: skip
    report.say(f"machine busy before the run (other users): {busy_before}; {pgbouncer_version()}")


def pgbouncer_version() -> str:
    command = [pgbouncer_binary() or "pgbouncer", "--version"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    return output.splitlines()[0]


if __name__ == "__main__":
    run_benchmark(benchmark)
