"""Whether the event loop stays free while CPU-heavy requests run: /health latency alone, then
while 20 logins and 3 large caption uploads run at once. Target: /health p99 under 50 ms.

The app served as `make run` serves it (`python -m app.serve`, one worker), with the production
Argon2 cost and login throttles and the job workers off; each route used is called once first,
and small uploads start the process pool's workers. A prober in a process of its own
(harness/prober.py) sends GET /health every 10 ms over one keep-alive connection; a probe's
latency counts from its scheduled time, so a stall weighs in p99 by its length (`p99 sent`: from
when it was sent). 4 s idle, then at once 20 logins (right and wrong passwords, never enough
failures to be throttled) and 3 uploads of a 4.9 MB SRT. The CPU table splits the server's
event-loop thread (with its time waiting, runnable, for a CPU: the scheduler's doing, not the
loop's), its other threads, its pool processes and the two clients. Exit status 1 on any FAIL;
stops after 110 s whatever happens. 30 to 60 s:

    cd backend && .venv/bin/python -m benchmarks.loop_stall
"""

import asyncio
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass

import httpx
from rich.table import Table

from app.core.config import Settings
from app.core.offload import CPU_WORKERS
from benchmarks.harness import database as db
from benchmarks.harness import machine, report
from benchmarks.harness.api import API, expect, new_account, register
from benchmarks.harness.prober import Probe, lags, prober, probes_when_stopped
from benchmarks.harness.runner import run_benchmark
from benchmarks.harness.servers import Server, app_server, check_running, wait_until_ready
from benchmarks.harness.text import caption_file
from testkit.processes import children_of

P99_TARGET_MS = 50.0
CLIENT_CPU_CEILING = 0.5  # of one core: above it, the load generator may set the pace
IDLE_SECONDS = 4.0
LOGIN_USERS = 5
LOGIN_PAIRS_PER_USER = 2  # a right password, then a wrong one
UPLOADS = 3
UPLOAD_BYTES = 4_900_000
WARM_UP_UPLOAD_BYTES = 20_000
WARM_UP_UPLOAD_ROUNDS = 2
REQUEST_TIMEOUT_SECONDS = 60.0
RUN_TIMEOUT_SECONDS = 110.0

# Production values: the defaults, written out so that a .env cannot lower them.
PRODUCTION_DEFAULTS = (
    "argon2_time_cost",
    "argon2_memory_cost_kib",
    "argon2_parallelism",
    "login_backoff_after_failures",
    "login_client_backoff_after_failures",
    "max_request_bytes",
)
SERVER_SETTINGS = {
    **{name.upper(): str(Settings.model_fields[name].default) for name in PRODUCTION_DEFAULTS},
    "JOBS_ENABLED": "false",
}
CAPTION_TEXT = (
    "people were talking about what the change means for them today and why the team keeps "
    "its releases small with careful reviews tests and rollouts so nobody works late at night "
    "while the speaker explains each step of the process in plain words"
)
RIGHT, WRONG, UPLOAD = "login, right password", "login, wrong password", "upload, 4.9 MB SRT"


# --- set-up, warm-up and the load ------------------------------------------------------------


def login(account: dict[str, str], right: bool = True) -> dict[str, str]:
    return {**account, "password": account["password"] + ("" if right else "-wrong")}


def upload(
    client: httpx.AsyncClient, headers: dict[str, str], video_id: str, content: bytes
) -> Awaitable[httpx.Response]:
    files = {"file": ("talk.srt", content, "application/x-subrip")}
    path = f"{API}/transcripts/upload"
    return client.post(path, data={"video": video_id}, files=files, headers=headers)


async def set_up(client: httpx.AsyncClient) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Users to log in, and the uploader's bearer header; each route and answer the load uses
    called once; the process pool's workers started, each having done a job (rounds of as many
    uploads as workers: a busy worker leaves the next job to another)."""
    uploader, *users = [new_account("loop") for _ in range(LOGIN_USERS + 1)]
    for account in (uploader, *users):
        await register(client, account)
    token = (await expect(client.post(f"{API}/auth/login", json=uploader), 200))["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    await expect(client.get("/health"), 200)
    await expect(client.post(f"{API}/auth/login", json=login(users[0], right=False)), 401)
    await expect(client.post(f"{API}/auth/login", json=users[0]), 200)
    content = caption_file(WARM_UP_UPLOAD_BYTES, CAPTION_TEXT.split())
    for round_ in range(WARM_UP_UPLOAD_ROUNDS):
        video_ids = [f"warm{round_:03d}{n:04d}" for n in range(CPU_WORKERS)]
        uploads = [upload(client, headers, video_id, content) for video_id in video_ids]
        await asyncio.gather(*(expect(request, 201) for request in uploads))
    return users, headers


@dataclass(frozen=True)
class Outcome:
    kind: str
    expected: int
    status: int  # 0: no answer
    seconds: float
    body: str  # kept when the status is not the expected one

    @property
    def failed(self) -> bool:
        return self.status != self.expected


async def timed(kind: str, expected: int, request: Awaitable[httpx.Response]) -> Outcome:
    started = time.monotonic()
    try:
        response = await request
    except httpx.HTTPError as error:
        seconds = time.monotonic() - started
        return Outcome(kind, expected, 0, seconds, f"{type(error).__name__}: {error}")
    seconds = time.monotonic() - started
    body = "" if response.status_code == expected else response.text[:1000]
    return Outcome(kind, expected, response.status_code, seconds, body)


def load(
    client: httpx.AsyncClient, users: list[dict[str, str]], headers: dict[str, str], content: bytes
) -> list[Awaitable[Outcome]]:
    """For each user, right and wrong passwords taking turns; then the uploads."""
    calls: list[Awaitable[Outcome]] = []
    for user in users:
        for right in (True, False) * LOGIN_PAIRS_PER_USER:
            request = client.post(f"{API}/auth/login", json=login(user, right))
            calls.append(timed(RIGHT if right else WRONG, 200 if right else 401, request))
    for n in range(UPLOADS):
        calls.append(timed(UPLOAD, 201, upload(client, headers, f"load{n:07d}", content)))
    return calls


def cpu_seconds(server_pid: int, prober_pid: int) -> dict[str, float | None]:
    """CPU time so far of the server's loop thread (its main thread), its other threads, its
    child processes, and the two client processes; and how long the loop thread waited for a
    CPU while it had work (the run queue, /proc/PID/task/TID/schedstat)."""
    loop = machine.stat_cpu_seconds(f"/proc/{server_pid}/task/{server_pid}/stat")
    whole = machine.process_cpu_seconds(server_pid)
    children = [machine.process_cpu_seconds(child) for child in children_of(server_pid)]
    return {
        "server: event-loop thread": loop,
        "server: event-loop thread, waiting for a CPU": machine.run_queue_seconds(
            server_pid, server_pid
        ),
        "server: other threads (Argon2 pool, file writes)": (
            whole - loop if whole is not None and loop is not None else None
        ),
        "server: pool processes (parsing, chunking)": sum(c for c in children if c is not None),
        "client: load generator": machine.process_cpu_seconds(os.getpid()),
        "client: prober": machine.process_cpu_seconds(prober_pid),
    }


@dataclass(frozen=True)
class Results:
    idle: list[Probe]
    under_load: list[Probe]
    outcomes: list[Outcome]
    load_seconds: float
    cpu_percent: dict[str, float | None]
    upload_bytes: int
    server_output: str

    def outcomes_of(self, *kinds: str) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.kind in kinds]


async def measure(server: Server) -> Results:
    content = caption_file(UPLOAD_BYTES, CAPTION_TEXT.split())
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(
        base_url=server.base_url, trust_env=False, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
    ) as client:
        users, headers = await set_up(client)
        async with prober(server) as (prober_pid, stop, results):
            idle_from = time.monotonic()
            await asyncio.sleep(IDLE_SECONDS)
            calls = load(client, users, headers, content)
            cpu_before = cpu_seconds(server.process.pid, prober_pid)
            started = time.monotonic()
            outcomes = await asyncio.gather(*calls)
            ended = time.monotonic()
            cpu_after = cpu_seconds(server.process.pid, prober_pid)
            probes = await probes_when_stopped(stop, results, REQUEST_TIMEOUT_SECONDS)
    check_running(server)
    seconds = ended - started
    percent = {
        # A pool process started during the window would count its whole life; none should.
        name: None if (then := cpu_before[name]) is None or (now := cpu_after[name]) is None
        else (now - then) / seconds * 100
        for name in cpu_before
    }  # fmt: skip
    return Results(
        idle=[probe for probe in probes if idle_from <= probe.scheduled <= started],
        under_load=[probe for probe in probes if started <= probe.scheduled <= ended],
        outcomes=list(outcomes),
        load_seconds=seconds,
        cpu_percent=percent,
        upload_bytes=len(content),
        server_output=server.output(),
    )


# --- report ----------------------------------------------------------------------------------


def tables(results: Results) -> list[Table]:
    windows = (("idle", results.idle, IDLE_SECONDS),
               ("under load", results.under_load, results.load_seconds))  # fmt: skip
    health = report.table(
        "/health, probed every 10 ms over one keep-alive connection",
        ("window", "seconds", "probes", "p50 ms", "p99 ms", "max ms", "p99 sent ms"),
        [
            [label, f"{seconds:.1f}", str(len(probes)),
             *(f"{report.percentile_ms(lags(probes), q):.1f}" for q in (0.5, 0.99)),
             report.ms(max(lags(probes))),
             f"{report.percentile_ms(lags(probes, since_sent=True), 0.99):.1f}"]
            for label, probes, seconds in windows
        ],
        caption="Latency from each probe's scheduled time; 'p99 sent': from when it was sent.",
    )  # fmt: skip
    rows = []
    for kind in (RIGHT, WRONG, UPLOAD):
        outcomes = results.outcomes_of(kind)
        seconds = [outcome.seconds for outcome in outcomes]
        counts = sorted(Counter(outcome.status for outcome in outcomes).items())
        statuses = ", ".join(f"{count} x {status}" for status, count in counts)
        figures = [f"{max(seconds):.2f}", f"{statistics.median(seconds):.2f}"]
        rows.append([kind, str(len(outcomes)), statuses, str(outcomes[0].expected), *figures])
    load = report.table(
        "The load: all requests sent at once",
        ("requests", "count", "statuses", "expected", "last done s", "median s"),
        rows,
        caption=f"Each upload: an SRT file of {results.upload_bytes:,} bytes.",
    )
    cpu = report.table(
        f"CPU over the load window ({results.load_seconds:.1f} s), % of one core",
        ("process", "CPU %"),
        [[name, "n/a" if p is None else f"{p:.0f}"] for name, p in results.cpu_percent.items()],
        caption=f"{machine.CORES} cores on the machine; PostgreSQL's CPU is not counted.",
    )
    return [health, load, cpu]


def verdicts(results: Results) -> list[tuple[str, str, bool | None]]:
    """(target, this run's figure, passed); None where there is no target."""
    p99_load = report.percentile_ms(lags(results.under_load), 0.99)
    p99_idle = report.percentile_ms(lags(results.idle), 0.99)
    uploads, logins = results.outcomes_of(UPLOAD), results.outcomes_of(RIGHT, WRONG)
    probes = results.idle + results.under_load
    client = sum(
        p for name, p in results.cpu_percent.items() if name.startswith("client") and p is not None
    )
    counts = (
        ("every upload 201", sum(not o.failed for o in uploads), len(uploads)),
        ("logins 200 (right) and 401 (wrong)", sum(not o.failed for o in logins), len(logins)),
        ("every probe 200", sum(p.status == 200 for p in probes), len(probes)),
    )
    return [
        (f"/health p99 under load < {P99_TARGET_MS:.0f} ms", f"{p99_load:.1f} ms",
         p99_load < P99_TARGET_MS),
        ("p99 under load / p99 idle", f"{p99_load / p99_idle:.1f} x", None),
        *((target, f"{passed}/{total}", passed == total) for target, passed, total in counts),
        (f"client CPU < {CLIENT_CPU_CEILING:.0%} of a core (not the bottleneck)", f"{client:.0f} %",
         client < CLIENT_CPU_CEILING * 100),
    ]  # fmt: skip


def print_report(results: Results, clock: machine.Clock) -> bool:
    """The tables, failures and the server's warnings; True when every target passed."""
    rows = verdicts(results)
    targets = report.table(
        "Targets",
        ("target", "this run", "verdict"),
        [[target, figure, report.verdict(passed)] for target, figure, passed in rows],
    )
    report.print_tables(*tables(results), targets)
    for outcome in results.outcomes:
        if outcome.failed:
            report.say(
                f"! {outcome.kind}: {outcome.status} (expected {outcome.expected}) after "
                f"{outcome.seconds:.2f} s: {outcome.body}",
                style="red",
            )
    # Without its INFO lines: one access-log line per request.
    warnings = "\n".join(
        line for line in results.server_output.splitlines() if " INFO " not in line
    )
    if warnings.strip():
        report.say(f"The server said:\n{warnings[-3000:]}")
    settings = ", ".join(f"{name}={value}" for name, value in SERVER_SETTINGS.items())
    report.say(f"Server: python -m app.serve, {settings}. {clock.closing()}")
    return all(passed is not False for _, _, passed in rows)


async def benchmark() -> Results:
    async with asyncio.timeout(RUN_TIMEOUT_SECONDS), db.throwaway_database() as url:
        with app_server(url, SERVER_SETTINGS) as server:
            await wait_until_ready(server)
            return await measure(server)


def main() -> None:
    clock = machine.Clock()
    try:
        results = run_benchmark(benchmark)
    except TimeoutError:
        print(f"FAIL: the run took over {RUN_TIMEOUT_SECONDS:.0f} s.", file=sys.stderr)
        sys.exit(1)
    if not print_report(results, clock):
        sys.exit(1)


if __name__ == "__main__":
    main()
