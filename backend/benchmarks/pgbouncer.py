"""The app through PgBouncer (transaction pooling) next to the app straight on PostgreSQL.

Four set-ups, each `python -m app.serve` with two worker processes (WORKERS=2) unless said, on
one throw-away database of the embedded server (or BENCH_DATABASE_URL / TEST_DATABASE_URL):

- `direct, WORKERS=1`: one process, as before WORKERS existed;
- `direct`: DATABASE_URL names the server itself (its Unix socket); prepared statements cached;
- `direct, DB_PGBOUNCER`: the same, with what DB_PGBOUNCER changes (no statement cache, unique
  names): what those settings cost on their own;
- `pgbouncer`: through PgBouncer 1.18 (Debian's package, started with its own configuration in a
  temporary folder by `testkit/pgbouncer.py`) with 20 server connections, DB_PGBOUNCER=true.

Each set-up first checks the API end to end through it (register, log in, create a conversation,
ask a question and get a grounded answer from the offline model, list conversations and
messages). Then three requests are measured at concurrency 10, 5 s each, in three rounds taking
turns between the set-ups (the median is shown): listing conversations, listing a conversation's
messages, creating a conversation. The load comes from `wrk` (one
thread) when it is installed, else from httpx (which on two cores takes much of the CPU the
servers need: its figures are a floor); the table says which. Any non-2xx answer counts as an
error. Takes about four minutes:

    cd backend && .venv/bin/python -m benchmarks.pgbouncer
"""

import asyncio
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import httpx
from rich.console import Console
from rich.table import Table

from benchmarks.harness import (
    app_server,
    expect,
    machine_busy_share,
    run_database_benchmark,
    wait_until_ready,
)
from benchmarks.repositories import server_url, throwaway_database
from testkit.pgbouncer import pgbouncer_binary, pgbouncer_in_front

SECONDS = 5
ROUNDS = 3
CONCURRENCY = 10
SERVER_CONNECTIONS = 20
SERVER_SETTINGS = {"WORKERS": "2", "JOBS_ENABLED": "false", "EMBEDDINGS_ENABLED": "false"}
QUESTION = "How does caching trade memory for time?"
TRANSCRIPT = " ".join(
    f"Caching keeps answers close to where they are needed, part {n}. It trades memory for time."
    for n in range(40)
)


@dataclass(frozen=True)
class Request:
    name: str
    method: str
    path: str
    body: str | None = None


@dataclass(frozen=True)
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def requests(conversation_id: str) -> list[Request]:
    return [
        Request("GET conversations", "GET", "/api/v1/conversations?limit=20"),
        Request("GET messages", "GET", f"/api/v1/conversations/{conversation_id}/messages"),
        Request("POST conversation", "POST", "/api/v1/conversations", '{"title": "load"}'),
    ]


async def check_api(base_url: str, email: str) -> tuple[str, str]:
    """The API end to end: returns a bearer token and a conversation holding a chat turn."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60, trust_env=False) as client:
        account = {"email": email, "password": secrets.token_urlsafe(16)}
        await expect(client.post("/api/v1/auth/register", json=account), 202)
        token = (await expect(client.post("/api/v1/auth/login", json=account), 200))["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        transcript = {"video": "dQw4w9WgXcQ", "title": "On caching", "transcript_text": TRANSCRIPT}
        await expect(client.post("/api/v1/transcripts", json=transcript), 201)
        conversation = await expect(client.post("/api/v1/conversations", json={}), 201)
        path = f"/api/v1/conversations/{conversation['id']}/messages"
        answer = await expect(client.post(path, json={"content": QUESTION}), 201)
        if not answer["assistant_message"]["metadata"]["grounded"]:
            raise RuntimeError(f"setup: the answer is not grounded: {answer}")
        listed = await expect(client.get("/api/v1/conversations"), 200)
        messages = await expect(client.get(path), 200)
        if listed["total"] != 1 or len(messages["items"]) != 2:
            raise RuntimeError(f"setup: listed {listed['total']} and {len(messages['items'])}")
        return token, conversation["id"]


def milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def with_wrk(base_url: str, token: str, request: Request) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        body = f"wrk.body = '{request.body}'\n" if request.body else ""
        script.write(f'wrk.method = "{request.method}"\n{body}')
        script.write('wrk.headers["Content-Type"] = "application/json"\n')
        script.flush()
        command = ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{SECONDS}s", "--timeout", "30s"]
        command += ["--latency", "-s"]
        command += [script.name, "-H", f"Authorization: Bearer {token}", base_url + request.path]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    not_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    errors = int(not_2xx.group(1)) if not_2xx else 0
    errors += sum(map(int, re.findall(r"\d+", socket_errors.group(1)))) if socket_errors else 0
    return Result(
        float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        milliseconds(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1)),  # type: ignore[union-attr]
        milliseconds(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1)),  # type: ignore[union-attr]
        errors,
    )


async def with_httpx(base_url: str, token: str, request: Request) -> Result:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + SECONDS
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await client.request(request.method, request.path, content=request.body)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += not response.is_success

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=60, trust_env=False
    ) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(CONCURRENCY)))
    latencies.sort()
    return Result(
        len(latencies) / SECONDS,
        latencies[len(latencies) // 2],
        latencies[int(len(latencies) * 0.99)],
        errors,
    )


@contextmanager
def setups(database_url: str) -> Iterator[list[tuple[str, str, dict[str, str]]]]:
    """(name, DATABASE_URL, settings) of each set-up; PgBouncer runs while the block does."""
    with pgbouncer_in_front(database_url, pool_size=SERVER_CONNECTIONS) as through:
        yield [
            ("direct, WORKERS=1", database_url, {"WORKERS": "1"}),
            ("direct", database_url, {}),
            ("direct, DB_PGBOUNCER", database_url, {"DB_PGBOUNCER": "true"}),
            ("pgbouncer", through, {"DB_PGBOUNCER": "true"}),
        ]


@dataclass(frozen=True)
class Target:
    name: str
    base_url: str
    token: str
    conversation: str


async def measure(target: Target, request: Request) -> Result:
    if shutil.which("wrk"):
        return await asyncio.to_thread(with_wrk, target.base_url, target.token, request)
    return await with_httpx(target.base_url, target.token, request)


async def start_targets(database_url: str, stack: ExitStack) -> list[Target]:
    """Every set-up's server, running at once (idle while another is measured), API checked."""
    targets = []
    for number, (name, url, settings) in enumerate(stack.enter_context(setups(database_url))):
        server = stack.enter_context(app_server(url, {**SERVER_SETTINGS, **settings}))
        await wait_until_ready(server)
        token, conversation = await check_api(server.base_url, f"b{number}@example.com")
        print(f"{name}: the API works (register, log in, chat, list)")
        targets.append(Target(name, server.base_url, token, conversation))
    return targets


async def benchmark() -> None:
    if pgbouncer_binary() is None:
        raise SystemExit("pgbouncer is not installed: apt-get install -y pgbouncer")
    busy_before = await machine_busy_share(2.0)
    runs: dict[tuple[str, str], list[Result]] = defaultdict(list)
    async with throwaway_database(server_url()) as database_url:
        with ExitStack() as stack:
            targets = await start_targets(database_url, stack)
            # Rounds taking turns, so that the load of other users falls on every set-up alike.
            for _ in range(ROUNDS):
                for index in range(len(requests(""))):
                    for target in targets:
                        request = requests(target.conversation)[index]
                        runs[target.name, request.name].append(await measure(target, request))
    load_generator = "wrk -t1" if shutil.which("wrk") else "httpx (a floor: it shares the CPUs)"
    title = f"concurrency {CONCURRENCY}, {load_generator}, median of {ROUNDS} runs of {SECONDS} s"
    table = Table(title=title)
    for column in ("set-up", "request", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="left" if column in ("set-up", "request") else "right")
    for (name, request_name), results in runs.items():
        median = sorted(results, key=lambda result: result.requests_per_second)[len(results) // 2]
        errors = sum(result.errors for result in results)
        figures = (median.requests_per_second, median.p50_ms, median.p99_ms)
        table.add_row(name, request_name, *(f"{figure:,.1f}" for figure in figures), str(errors))
    Console().print(table)
    print(f"machine busy before the run (other users): {busy_before}; {pgbouncer_version()}")


def pgbouncer_version() -> str:
    command = [pgbouncer_binary() or "pgbouncer", "--version"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    return output.splitlines()[0]


if __name__ == "__main__":
    run_database_benchmark(benchmark)
