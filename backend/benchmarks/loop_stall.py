"""Whether the event loop stays free while CPU-heavy requests run: /health latency alone, then
while 20 logins and 3 large caption uploads run at once. Target: /health p99 under 50 ms.

How it runs:

1. A throw-away database (`benchmarks.repositories`), and the real app served as `make run`
   serves it (`python -m app.serve`: one uvicorn worker on uvloop, the app's own INFO logging),
   with the production Argon2 cost and login throttles (the settings' defaults, set explicitly
   so that a `.env` cannot change them) and the in-process ingest workers off. Everything
   talks to 127.0.0.1 only.
2. Setup through the API: 5 users and an uploader registered, the uploader logged in. Then each
   route used is called once before measuring (FastAPI prepares a route's dependencies on its
   first request), and small uploads start the process pool's workers (each loads the tokenizer
   on its first job).
3. A prober, in a process of its own so that the load generator's work cannot delay it, sends
   GET /health over one keep-alive connection on a fixed schedule, one every 10 ms. A probe's
   latency counts from its scheduled time: when the server stalls, the probes due during the
   stall go out late and count the wait a client arriving then would have had, so a stall
   weighs in p99 by its length. `p99 sent` counts from the moment each probe was sent instead.
4. Idle: 4 s of probing, nothing else running.
5. Load: at once, 20 logins (5 users, each with 2 right and 2 wrong passwords: never 5
   failures for one email nor 20 from one client, so the throttle refuses none) and 3 uploads
   of a 4.9 MB SRT (47,000 cues, distinct video ids, one user). The load window ends with the
   last answer. Expected: 200 for a right password, 401 for a wrong one, 201 for an upload;
   anything else is printed with its body and fails the run.

Reading the output:

- `/health`: p50, p99 and max over the idle seconds and over the load window; the ratio of the
  two p99s says what the load costs a request that has nothing to do with it.
- `load`: when the last request of each kind was answered (all start together), and statuses.
- `CPU`: CPU time over the load window in % of one core, for the server's event-loop thread
  (the thread /health needs), its other threads (the Argon2 pool, file writes), its pool
  processes (caption parsing, chunking), and the two client processes. PostgreSQL's is not
  counted. A client near 100 % would mean the load generator, not the server, set the pace.
  `waiting for a CPU` is the time the loop thread was ready to run but every core was taken
  (the kernel's run-queue delay, /proc/PID/task/TID/schedstat): high there while the loop's
  own CPU is low means the stalls come from the scheduler (the pools' work, or other work on
  the machine, holding the cores), not from code running on the loop.
- `targets`: each target beside this run's figure, PASS or FAIL; the exit status is 1 on any
  FAIL. Other work on the machine skews every figure: the load average is printed with them.

    cd backend && .venv/bin/python -m benchmarks.loop_stall

Takes 30 to 60 s; stops after 110 s whatever happens, with the server stopped and the database
dropped.
"""

import asyncio
import http.client
import multiprocessing
import os
import random
import secrets
import signal
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from rich.table import Table

from app.core.config import Settings
from app.core.offload import CPU_WORKERS
from benchmarks.harness import (
    Server,
    app_server,
    check_running,
    child_pids,
    expect,
    process_cpu_seconds,
    run,
    stat_cpu_seconds,
    wait_until_ready,
)
from benchmarks.http_load import percentile_ms, report_console
from benchmarks.repositories import server_url, throwaway_database

API = "/api/v1"
P99_TARGET_MS = 50.0
CLIENT_CPU_CEILING = 0.5  # of one core: above it, the load generator may set the pace

PROBE_INTERVAL_SECONDS = 0.010
IDLE_SECONDS = 4.0
LOGIN_USERS = 5
LOGIN_PAIRS_PER_USER = 2  # a right password, then a wrong one
UPLOADS = 3
UPLOAD_BYTES = 4_900_000
WARM_UP_UPLOAD_BYTES = 20_000
WARM_UP_UPLOAD_ROUNDS = 2

REQUEST_TIMEOUT_SECONDS = 60.0
RUN_TIMEOUT_SECONDS = 110.0
PROBER_START_TIMEOUT_SECONDS = 30.0

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


# --- the prober: its own process, GET /health on a fixed schedule ----------------------------


@dataclass(frozen=True, slots=True)
class Probe:
    scheduled: float  # time.monotonic(), which every process on the machine shares
    sent: float
    answered: float
    status: int


def probe_until_stopped(base_url: str, ready: Event, stop: Event, results: Connection) -> None:
    """The prober process's work: a probe every PROBE_INTERVAL_SECONDS, on schedule (a late one
    goes out at once), until `stop`; then the probes, and the error that ended them if any."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port)
    probes: list[Probe] = []
    error = None
    scheduled = time.monotonic()
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


@dataclass(frozen=True)
class Prober:
    process: multiprocessing.process.BaseProcess
    stop: Event
    results: Connection

    async def finish(self) -> list[Probe]:
        """Stop probing; the probes. RuntimeError if the prober failed."""
        self.stop.set()
        if not await asyncio.to_thread(self.results.poll, REQUEST_TIMEOUT_SECONDS):
            raise RuntimeError("the prober did not answer")
        probes, error = self.results.recv()
        if error:
            raise RuntimeError(f"the prober failed: {error}")
        return list(probes)


@asynccontextmanager
async def prober(server: Server) -> AsyncIterator[Prober]:
    """The prober, probing from its first answer on; stopped when the block exits."""
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=probe_until_stopped, args=(server.base_url, ready, stop, sender), daemon=True
    )
    process.start()
    try:
        if not await asyncio.to_thread(ready.wait, PROBER_START_TIMEOUT_SECONDS):
            raise RuntimeError("the prober got no answer from /health")
        yield Prober(process, stop, receiver)
    finally:
        stop.set()
        await asyncio.to_thread(process.join, 5)
        if process.is_alive():
            process.kill()
            process.join()


# --- setup and warm-up through the API -------------------------------------------------------


@dataclass(frozen=True)
class Account:
    email: str
    password: str

    def login(self, right: bool = True) -> dict[str, str]:
        password = self.password if right else self.password + "-wrong"
        return {"email": self.email, "password": password}


def new_account() -> Account:
    return Account(f"loop-{secrets.token_hex(6)}@example.com", secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Fixture:
    users: list[Account]
    uploader_headers: dict[str, str]


async def set_up(client: httpx.AsyncClient) -> Fixture:
    uploader, *users = [new_account() for _ in range(LOGIN_USERS + 1)]
    for account in (uploader, *users):
        await expect(client.post(f"{API}/auth/register", json=account.login()), 202)
    login = await expect(client.post(f"{API}/auth/login", json=uploader.login()), 200)
    return Fixture(users, {"Authorization": f"Bearer {login['access_token']}"})


def srt_time(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d},000"


def caption_file(size: int) -> bytes:
    """An SRT file of at most `size` bytes: 3-second cues of 8 to 16 words (seeded)."""
    draw = random.Random(size)
    words_to_draw = CAPTION_TEXT.split()
    cues: list[str] = []
    length = 0
    while True:
        number = len(cues)
        words = " ".join(draw.choices(words_to_draw, k=draw.randint(8, 16)))
        start = number * 3
        cue = f"{number + 1}\n{srt_time(start)} --> {srt_time(start + 3)}\n{words}\n\n"
        if length + len(cue) > size:
            return "".join(cues).encode()
        cues.append(cue)
        length += len(cue)


def upload(
    client: httpx.AsyncClient, headers: dict[str, str], video_id: str, content: bytes
) -> Awaitable[httpx.Response]:
    return client.post(
        f"{API}/transcripts/upload",
        data={"video": video_id},
        files={"file": ("talk.srt", content, "application/x-subrip")},
        headers=headers,
    )


async def warm_up(client: httpx.AsyncClient, fixture: Fixture) -> None:
    """Each route and answer the load uses, once; the process pool's workers started, each
    having done a job (rounds of as many uploads as workers: a busy worker leaves the next job
    to another)."""
    await expect(client.get("/health"), 200)
    await expect(client.post(f"{API}/auth/login", json=fixture.users[0].login(False)), 401)
    await expect(client.post(f"{API}/auth/login", json=fixture.users[0].login()), 200)
    content = caption_file(WARM_UP_UPLOAD_BYTES)
    for round_ in range(WARM_UP_UPLOAD_ROUNDS):
        video_ids = [f"warm{round_:03d}{n:04d}" for n in range(CPU_WORKERS)]
        uploads = [upload(client, fixture.uploader_headers, v, content) for v in video_ids]
        await asyncio.gather(*(expect(request, 201) for request in uploads))


# --- the load --------------------------------------------------------------------------------


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


def logins(client: httpx.AsyncClient, users: Sequence[Account]) -> list[Awaitable[Outcome]]:
    """Right and wrong passwords taking turns, for each user."""
    calls: list[Awaitable[Outcome]] = []
    for user in users:
        for right in (True, False) * LOGIN_PAIRS_PER_USER:
            request = client.post(f"{API}/auth/login", json=user.login(right))
            calls.append(timed(RIGHT if right else WRONG, 200 if right else 401, request))
    return calls


def uploads(
    client: httpx.AsyncClient, fixture: Fixture, content: bytes
) -> list[Awaitable[Outcome]]:
    video_ids = [f"load{n:07d}" for n in range(UPLOADS)]
    return [
        timed(UPLOAD, 201, upload(client, fixture.uploader_headers, video_id, content))
        for video_id in video_ids
    ]


@dataclass(frozen=True)
class LoadRun:
    outcomes: list[Outcome]
    started: float
    ended: float
    cpu_percent: dict[str, float | None]

    def outcomes_of(self, kind: str) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.kind == kind]


def run_queue_seconds(pid: int, tid: int) -> float | None:
    """How long a thread has waited, runnable, for a CPU; None without /proc schedstat."""
    try:
        return int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def cpu_seconds(server_pid: int, prober_pid: int) -> dict[str, float | None]:
    """CPU time so far of the server's loop thread (its main thread), its other threads, its
    child processes, and the two client processes; and how long the loop thread waited for a
    CPU while it had work (the run queue: other work on the same cores)."""
    loop = stat_cpu_seconds(f"/proc/{server_pid}/task/{server_pid}/stat")
    whole = process_cpu_seconds(server_pid)
    children = [process_cpu_seconds(child) for child in child_pids(server_pid)]
    return {
        "server: event-loop thread": loop,
        "server: event-loop thread, waiting for a CPU": run_queue_seconds(server_pid, server_pid),
        "server: other threads (Argon2 pool, file writes)": (
            whole - loop if whole is not None and loop is not None else None
        ),
        "server: pool processes (parsing, chunking)": sum(c for c in children if c is not None),
        "client: load generator": process_cpu_seconds(os.getpid()),
        "client: prober": process_cpu_seconds(prober_pid),
    }


def cpu_percent(
    before: dict[str, float | None], after: dict[str, float | None], seconds: float
) -> dict[str, float | None]:
    return {
        name: None
        if (then := before[name]) is None or (now := after[name]) is None
        # A pool process started during the window would count its whole life; none should.
        else (now - then) / seconds * 100
        for name in before
    }


async def run_load(
    client: httpx.AsyncClient, fixture: Fixture, content: bytes, server: Server, prober_pid: int
) -> LoadRun:
    calls = [*logins(client, fixture.users), *uploads(client, fixture, content)]
    cpu_before = cpu_seconds(server.process.pid, prober_pid)
    started = time.monotonic()
    outcomes = await asyncio.gather(*calls)
    ended = time.monotonic()
    cpu_after = cpu_seconds(server.process.pid, prober_pid)
    return LoadRun(
        list(outcomes), started, ended, cpu_percent(cpu_before, cpu_after, ended - started)
    )


# --- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    idle: list[Probe]
    load: LoadRun
    under_load: list[Probe]
    upload_bytes: int
    server_output: str


def probes_between(probes: Sequence[Probe], start: float, end: float) -> list[Probe]:
    return [probe for probe in probes if start <= probe.scheduled <= end]


async def measure(server: Server) -> Results:
    content = caption_file(UPLOAD_BYTES)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(
        base_url=server.base_url,
        trust_env=False,
        timeout=REQUEST_TIMEOUT_SECONDS,
        limits=limits,
    ) as client:
        fixture = await set_up(client)
        await warm_up(client, fixture)
        async with prober(server) as probing:
            idle_from = time.monotonic()
            await asyncio.sleep(IDLE_SECONDS)
            load = await run_load(client, fixture, content, server, probing.process.pid or 0)
            probes = await probing.finish()
    check_running(server)
    return Results(
        idle=probes_between(probes, idle_from, load.started),
        load=load,
        under_load=probes_between(probes, load.started, load.ended),
        upload_bytes=len(content),
        server_output=server.output(),
    )


# --- report ----------------------------------------------------------------------------------


def latencies(probes: Sequence[Probe], since_sent: bool = False) -> list[float]:
    return [probe.answered - (probe.sent if since_sent else probe.scheduled) for probe in probes]


def p99_ms(probes: Sequence[Probe]) -> float:
    return percentile_ms(latencies(probes), 0.99)


def health_table(results: Results) -> Table:
    table = Table(
        title="/health, probed every 10 ms over one keep-alive connection",
        caption="Latency from each probe's scheduled time; 'p99 sent': from when it was sent.",
    )
    for header in ("window", "seconds", "probes", "p50 ms", "p99 ms", "max ms", "p99 sent ms"):
        table.add_column(header, justify="left" if header == "window" else "right")
    windows = (
        ("idle", results.idle, IDLE_SECONDS),
        ("under load", results.under_load, results.load.ended - results.load.started),
    )
    for label, probes, seconds in windows:
        lags = latencies(probes)
        table.add_row(
            label,
            f"{seconds:.1f}",
            str(len(probes)),
            f"{percentile_ms(lags, 0.5):.1f}",
            f"{percentile_ms(lags, 0.99):.1f}",
            f"{max(lags) * 1000:.1f}",
            f"{percentile_ms(latencies(probes, since_sent=True), 0.99):.1f}",
        )
    return table


def status_counts(outcomes: Sequence[Outcome]) -> str:
    counts: dict[int, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return ", ".join(f"{count} x {status}" for status, count in sorted(counts.items()))


def load_table(load: LoadRun, upload_bytes: int) -> Table:
    table = Table(
        title="The load: all requests sent at once",
        caption=f"Each upload: an SRT file of {upload_bytes:,} bytes.",
    )
    for header in ("requests", "count", "statuses", "expected", "last done s", "median s"):
        table.add_column(header, justify="left" if header == "requests" else "right")
    for kind in (RIGHT, WRONG, UPLOAD):
        outcomes = load.outcomes_of(kind)
        seconds = [outcome.seconds for outcome in outcomes]
        table.add_row(
            kind,
            str(len(outcomes)),
            status_counts(outcomes),
            str(outcomes[0].expected),
            f"{max(seconds):.2f}",
            f"{statistics.median(seconds):.2f}",
        )
    return table


def cpu_table(load: LoadRun) -> Table:
    table = Table(
        title=f"CPU over the load window ({load.ended - load.started:.1f} s), % of one core",
        caption=f"{os.cpu_count()} cores on the machine; PostgreSQL's CPU is not counted.",
    )
    table.add_column("process")
    table.add_column("CPU %", justify="right")
    for name, percent in load.cpu_percent.items():
        table.add_row(name, "n/a" if percent is None else f"{percent:.0f}")
    return table


def client_cpu_percent(load: LoadRun) -> float:
    shares = [p for name, p in load.cpu_percent.items() if name.startswith("client")]
    return sum(p for p in shares if p is not None)


Verdict = tuple[str, str, bool | None]  # target, this run's figure, PASS/FAIL (None: no target)


def latency_verdicts(results: Results) -> list[Verdict]:
    p99_load, p99_idle = p99_ms(results.under_load), p99_ms(results.idle)
    return [
        (
            f"/health p99 under load < {P99_TARGET_MS:.0f} ms",
            f"{p99_load:.1f} ms",
            p99_load < P99_TARGET_MS,
        ),
        ("p99 under load / p99 idle", f"{p99_load / p99_idle:.1f} x", None),
    ]


def count_verdict(target: str, passed: int, total: int) -> Verdict:
    return target, f"{passed}/{total}", passed == total


def status_verdicts(results: Results) -> list[Verdict]:
    uploads_ = results.load.outcomes_of(UPLOAD)
    logins_ = results.load.outcomes_of(RIGHT) + results.load.outcomes_of(WRONG)
    probes = results.idle + results.under_load
    return [
        count_verdict("every upload 201", sum(not o.failed for o in uploads_), len(uploads_)),
        count_verdict(
            "logins 200 (right) and 401 (wrong)",
            sum(not o.failed for o in logins_),
            len(logins_),
        ),
        count_verdict("every probe 200", sum(p.status == 200 for p in probes), len(probes)),
    ]


def client_verdict(load: LoadRun) -> Verdict:
    client = client_cpu_percent(load)
    return (
        f"client CPU < {CLIENT_CPU_CEILING:.0%} of a core (not the bottleneck)",
        f"{client:.0f} %",
        client < CLIENT_CPU_CEILING * 100,
    )


def verdicts(results: Results) -> list[Verdict]:
    return [*latency_verdicts(results), *status_verdicts(results), client_verdict(results.load)]


def targets_table(rows: Sequence[Verdict]) -> Table:
    table = Table(title="Targets")
    table.add_column("target")
    table.add_column("this run", justify="right")
    table.add_column("verdict")
    for target, figure, verdict in rows:
        table.add_row(target, figure, {True: "PASS", False: "FAIL", None: "-"}[verdict])
    return table


def server_problems(output: str) -> str:
    """The server's output without its INFO lines (one access-log line per request)."""
    return "\n".join(line for line in output.splitlines() if " INFO " not in line)


def print_report(results: Results, load_before: float, seconds: float) -> bool:
    """The tables, failures and the server's warnings; True when every target passed."""
    console = report_console()
    console.print(health_table(results))
    console.print(load_table(results.load, results.upload_bytes))
    console.print(cpu_table(results.load))
    rows = verdicts(results)
    console.print(targets_table(rows))
    # markup=False: bodies and logs are full of square brackets.
    for outcome in results.load.outcomes:
        if outcome.failed:
            console.print(
                f"! {outcome.kind}: {outcome.status} (expected {outcome.expected}) after "
                f"{outcome.seconds:.2f} s: {outcome.body}",
                style="red",
                markup=False,
                highlight=False,
            )
    warnings = server_problems(results.server_output)
    if warnings.strip():
        console.print(f"The server said:\n{warnings[-3000:]}", markup=False, highlight=False)
    settings = ", ".join(f"{name}={value}" for name, value in SERVER_SETTINGS.items())
    console.print(
        f"Server: python -m app.serve, {settings}. Load average {load_before:.2f} before the "
        f"run, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} cores (other work on the "
        f"machine skews every figure). Took {seconds:.0f} s.",
        markup=False,
        highlight=False,
    )
    return all(verdict is not False for _, _, verdict in rows)


# --- entry point -----------------------------------------------------------------------------


async def benchmark() -> Results:
    async with asyncio.timeout(RUN_TIMEOUT_SECONDS), throwaway_database(server_url()) as url:
        with app_server(url, SERVER_SETTINGS) as server:
            await wait_until_ready(server)
            return await measure(server)


def main() -> None:
    # SIGTERM would end the process without the finally blocks that stop the server and drop
    # the database; treated like Ctrl-C, it runs them.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started, load_before = time.monotonic(), os.getloadavg()[0]
    try:
        results = run(benchmark())
    except KeyboardInterrupt:
        print("Interrupted: the server is stopped and the database dropped.", file=sys.stderr)
        sys.exit(130)
    except TimeoutError:
        print(f"FAIL: the run took over {RUN_TIMEOUT_SECONDS:.0f} s.", file=sys.stderr)
        sys.exit(1)
    if not print_report(results, load_before, time.monotonic() - started):
        sys.exit(1)


if __name__ == "__main__":
    main()
