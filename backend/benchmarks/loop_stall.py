"""Whether the event loop stays free while CPU-heavy requests run: /health probed every 10 ms
from a process of its own, on a fixed schedule (a stall weighs by its length), idle and then
while 20 logins and 3 uploads of a 4.9 MB SRT run at once on the app as `make run` serves it
(production Argon2 cost and throttles); target p99 under 50 ms, with the CPU of each process.
Exit status 1 on any FAIL; stops after 110 s whatever happens. 30 to 60 s:

    cd backend && .venv/bin/python -m benchmarks.loop_stall
"""

import asyncio
import http.client
import multiprocessing
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from functools import cache
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import NamedTuple
from urllib.parse import urlsplit

import httpx

from app.core.config import Settings
from app.core.offload import CPU_WORKERS
from benchmarks.harness import database as db
from benchmarks.harness import machine, report
from benchmarks.harness.api import API, expect, new_account, register
from benchmarks.harness.machine import run_benchmark
from benchmarks.harness.servers import Server, app_server, wait_until_ready
from testkit.processes import children_of

P99_TARGET_MS = 50.0
CLIENT_CPU_CEILING = 0.5  # of one core: above it, the load generator may set the pace
PROBE_INTERVAL_SECONDS, IDLE_SECONDS = 0.010, 4.0
REQUEST_TIMEOUT_SECONDS, RUN_TIMEOUT_SECONDS = 60.0, 110.0
LOGIN_USERS, LOGIN_PAIRS_PER_USER = 5, 2  # each pair a right password, then a wrong one
UPLOADS, UPLOAD_BYTES, WARM_UP_UPLOAD_BYTES, WARM_UP_UPLOAD_ROUNDS = 3, 4_900_000, 20_000, 2
# Production values: the defaults, written out so that a .env cannot lower them.
PRODUCTION_DEFAULTS = ("argon2_time_cost", "argon2_memory_cost_kib", "argon2_parallelism",
                       "login_backoff_after_failures", "login_client_backoff_after_failures",
                       "max_request_bytes")  # fmt: skip
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


class Probe(NamedTuple):
    scheduled: float  # time.monotonic(), which every process on the machine shares
    sent: float
    answered: float
    status: int


class Outcome(NamedTuple):
    kind: str
    expected: int
    status: int  # 0: no answer
    seconds: float
    body: str  # kept when the status is not the expected one


def probe_until_stopped(base_url: str, ready: Event, stop: Event, results: Connection) -> None:
    """The prober process: a probe every PROBE_INTERVAL_SECONDS on schedule (a late one goes out
    at once) until `stop`; then the probes, and the error that ended them if any."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port)
    probes, error, scheduled = [], None, time.monotonic()
    try:
        while not stop.is_set():
            time.sleep(max(0.0, scheduled - time.monotonic()))
            sent = time.monotonic()
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            probes.append(Probe(scheduled, sent, time.monotonic(), response.status))
            ready.set()
            scheduled += PROBE_INTERVAL_SECONDS
    except (OSError, http.client.HTTPException) as failure:
        error = f"{type(failure).__name__}: {failure}"
    finally:
        connection.close()
    results.send((probes, error))


@asynccontextmanager
async def prober(server: Server) -> AsyncIterator[tuple[int, Event, Connection]]:
    """The prober's pid, its stop event and the end its probes arrive on, from its first answer
    on; stopped when the block exits."""
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=probe_until_stopped, args=(server.base_url, ready, stop, sender), daemon=True
    )
    process.start()
    try:
        if not await asyncio.to_thread(ready.wait, 30.0):
            raise RuntimeError("the prober got no answer from /health")
        yield process.pid or 0, stop, receiver
    finally:
        stop.set()
        await asyncio.to_thread(process.join, 5)
        if process.is_alive():
            process.kill()
            process.join()


def lags(probes: Sequence[Probe], since_sent: bool = False) -> list[float]:
    """Each probe's latency: from its scheduled time, or from when it was sent."""
    return [probe.answered - (probe.sent if since_sent else probe.scheduled) for probe in probes]


@cache
def caption_file(size: int) -> bytes:
    """An SRT file of at most `size` bytes: 3-second cues of 8 to 16 words (seeded by size)."""
    draw, cues, length = random.Random(size), list[str](), 0
    while True:
        start = len(cues) * 3
        times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d},000" for s in (start, start + 3)]
        words = " ".join(draw.choices(CAPTION_TEXT.split(), k=draw.randint(8, 16)))
        cue = f"{len(cues) + 1}\n{times[0]} --> {times[1]}\n{words}\n\n"
        if length + len(cue) > size:
            return "".join(cues).encode()
        cues.append(cue)
        length += len(cue)


def login(account: dict[str, str], right: bool = True) -> dict[str, str]:
    return {**account, "password": account["password"] + ("" if right else "-wrong")}


def upload(client: httpx.AsyncClient, headers: dict[str, str], video_id: str,
           content: bytes) -> Awaitable[httpx.Response]:  # fmt: skip
    files = {"file": ("talk.srt", content, "application/x-subrip")}
    return client.post(f"{API}/transcripts/upload", data={"video": video_id}, files=files,
                       headers=headers)  # fmt: skip


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
    content = caption_file(WARM_UP_UPLOAD_BYTES)
    for round_ in range(WARM_UP_UPLOAD_ROUNDS):
        uploads = [
            upload(client, headers, f"warm{round_:03d}{n:04d}", content) for n in range(CPU_WORKERS)
        ]
        await asyncio.gather(*(expect(request, 201) for request in uploads))
    return users, headers


async def timed(kind: str, expected: int, request: Awaitable[httpx.Response]) -> Outcome:
    started = time.monotonic()
    try:
        response = await request
    except httpx.HTTPError as error:
        return Outcome(
            kind, expected, 0, time.monotonic() - started, f"{type(error).__name__}: {error}"
        )
    body = "" if response.status_code == expected else response.text[:1000]
    return Outcome(kind, expected, response.status_code, time.monotonic() - started, body)


def cpu_seconds(server_pid: int, prober_pid: int) -> dict[str, float | None]:
    """CPU time so far of the server's loop thread (its main thread), its other threads, its
    child processes, and the two client processes; and how long the loop thread waited for a
    CPU while it had work (the run queue)."""
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


Measured = tuple[dict[str, list[Probe]], list[Outcome], float, dict[str, float | None]]


async def measure(server: Server) -> Measured:
    """The probes by window (idle, under load), the load's outcomes and seconds, and the CPU
    each process used over the load window, in % of one core."""
    content = caption_file(UPLOAD_BYTES)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(
        base_url=server.base_url, trust_env=False, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
    ) as client:
        users, headers = await set_up(client)
        async with prober(server) as (prober_pid, stop, results):
            idle_from = time.monotonic()
            await asyncio.sleep(IDLE_SECONDS)
            calls = [  # for each user, right and wrong passwords taking turns; then the uploads
                timed(RIGHT if right else WRONG, 200 if right else 401,
                      client.post(f"{API}/auth/login", json=login(user, right)))
                for user in users for right in (True, False) * LOGIN_PAIRS_PER_USER
            ] + [timed(UPLOAD, 201, upload(client, headers, f"load{n:07d}", content))
                 for n in range(UPLOADS)]  # fmt: skip
            cpu_before = cpu_seconds(server.process.pid, prober_pid)
            started = time.monotonic()
            outcomes = await asyncio.gather(*calls)
            ended = time.monotonic()
            cpu_after = cpu_seconds(server.process.pid, prober_pid)
            stop.set()
            if not await asyncio.to_thread(results.poll, REQUEST_TIMEOUT_SECONDS):
                raise RuntimeError("the prober did not answer")
            probes, error = results.recv()
            if error:
                raise RuntimeError(f"the prober failed: {error}")
    server.check_running()
    seconds = ended - started
    percent = {
        # A pool process started during the window would count its whole life; none should.
        name: None if (then := cpu_before[name]) is None or (now := cpu_after[name]) is None
        else (now - then) / seconds * 100
        for name in cpu_before
    }  # fmt: skip
    windows = {"idle": (idle_from, started), "under load": (started, ended)}
    by_window = {
        name: [probe for probe in probes if begin <= probe.scheduled <= end]
        for name, (begin, end) in windows.items()
    }
    return by_window, list(outcomes), seconds, percent


def print_report(measured: Measured, server_output: str, clock: machine.Clock) -> bool:
    """The tables, failures and the server's warnings; True when every target passed."""
    probes, outcomes, seconds, cpu = measured
    health = [
        [name, f"{IDLE_SECONDS if name == 'idle' else seconds:.1f}", str(len(found)),
         *report.percentiles(lags(found), (0.5, 0.99)),
         f"{report.percentile_ms(lags(found, since_sent=True), 0.99):.1f}"]
        for name, found in probes.items()
    ]  # fmt: skip
    load = []
    for kind in (RIGHT, WRONG, UPLOAD):
        done = [outcome for outcome in outcomes if outcome.kind == kind]
        statuses = sorted(Counter(outcome.status for outcome in done).items())
        times = [outcome.seconds for outcome in done]
        load.append([
            kind, str(len(done)), ", ".join(f"{n} x {status}" for status, n in statuses),
            str(done[0].expected), f"{max(times):.2f}", f"{statistics.median(times):.2f}",
        ])  # fmt: skip
    p99_load, p99_idle = (
        report.percentile_ms(lags(probes[name]), 0.99) for name in ("under load", "idle")
    )
    client = sum(p for name, p in cpu.items() if name.startswith("client") and p is not None)
    every_probe = probes["idle"] + probes["under load"]
    counts = (
        ("every upload 201", [o.status == o.expected for o in outcomes if o.kind == UPLOAD]),
        ("logins 200 (right) and 401 (wrong)",
         [o.status == o.expected for o in outcomes if o.kind != UPLOAD]),
        ("every probe 200", [p.status == 200 for p in every_probe]),
    )  # fmt: skip
    verdicts: list[tuple[str, str, bool | None]] = [
        (f"/health p99 under load < {P99_TARGET_MS:.0f} ms", f"{p99_load:.1f} ms",
         p99_load < P99_TARGET_MS),
        ("p99 under load / p99 idle", f"{p99_load / p99_idle:.1f} x", None),
        *((target, f"{sum(passed)}/{len(passed)}", all(passed)) for target, passed in counts),
        (f"client CPU < {CLIENT_CPU_CEILING:.0%} of a core (not the bottleneck)",
         f"{client:.0f} %", client < CLIENT_CPU_CEILING * 100),
    ]  # fmt: skip
    report.print_tables(report.table(
        "/health, probed every 10 ms over one keep-alive connection",
        ("window", "seconds", "probes", "p50 ms", "p99 ms", "max ms", "p99 sent ms"), health,
        caption="Latency from each probe's scheduled time; 'p99 sent': from when it was sent.",
    ), report.table(
        "The load: all requests sent at once",
        ("requests", "count", "statuses", "expected", "last done s", "median s"), load,
        caption=f"Each upload: an SRT file of {len(caption_file(UPLOAD_BYTES)):,} bytes.",
    ), report.table(
        f"CPU over the load window ({seconds:.1f} s), % of one core", ("process", "CPU %"),
        [[name, "n/a" if p is None else f"{p:.0f}"] for name, p in cpu.items()],
        caption=f"{machine.CORES} cores on the machine; PostgreSQL's CPU is not counted.",
    ), report.table(
        "Targets", ("target", "this run", "verdict"),
        [[target, figure, report.verdict(passed)] for target, figure, passed in verdicts],
    ))  # fmt: skip
    for outcome in outcomes:
        if outcome.status != outcome.expected:
            report.say(f"! {outcome.kind}: {outcome.status} (expected {outcome.expected}) after "
                       f"{outcome.seconds:.2f} s: {outcome.body}", style="red")  # fmt: skip
    # Without its INFO lines: one access-log line per request.
    warnings = "\n".join(line for line in server_output.splitlines() if " INFO " not in line)
    if warnings.strip():
        report.say(f"The server said:\n{warnings[-3000:]}")
    settings = ", ".join(f"{name}={value}" for name, value in SERVER_SETTINGS.items())
    report.say(f"Server: python -m app.serve, {settings}. {clock.closing()}")
    return all(passed is not False for _, _, passed in verdicts)


async def benchmark() -> bool:
    """Whether every target passed, the report printed."""
    clock = machine.Clock()
    async with asyncio.timeout(RUN_TIMEOUT_SECONDS), db.throwaway_database() as url:
        with app_server(url, SERVER_SETTINGS) as server:
            await wait_until_ready(server)
            measured = await measure(server)
            output = server.output()
    return print_report(measured, output, clock)


if __name__ == "__main__":
    try:
        passed = run_benchmark(benchmark)
    except TimeoutError:
        print(f"FAIL: the run took over {RUN_TIMEOUT_SECONDS:.0f} s.", file=sys.stderr)
        sys.exit(1)
    sys.exit(0 if passed else 1)
