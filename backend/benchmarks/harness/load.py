"""Load: over HTTP from `wrk` (compiled: a few percent of a core, so a server's figures are the
server's) or from an httpx client (Python: on two cores it takes much of the CPU the server
needs, so its rates are a floor), sending a `Call` from a number of connections at once; and in
process, an operation from a number of tasks, or several operations measured in turns."""

import asyncio
import json
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

INSTALL_WRK = "`apt-get install wrk` (Debian, Ubuntu), `brew install wrk`"
_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}

Operation = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class WrkRun:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failed: int  # answered with a status other than 2xx or 3xx
    socket_errors: int  # connect, read, write and timeouts
    timeouts: int  # no answer within wrk's timeout (2 s unless given)
    cpu_seconds: float  # wrk's own
    output: str


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk(url: str, call: Call, headers: Mapping[str, str], connections: int, seconds: float,
        timeout: str | None = None) -> WrkRun:  # fmt: skip
    """`wrk -t1 --latency` for `seconds` (blocking: run it in a thread), and the CPU it used."""
    command = [wrk_path() or "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    command += ["--timeout", timeout] if timeout else []
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if call.method != "GET" or call.body is not None:
            body = f"wrk.body = '{json.dumps(call.body)}'\n" if call.body is not None else ""
            script.write(f'wrk.method = "{call.method}"\n{body}')
            script.flush()
            command += ["-s", script.name]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        output = subprocess.run(  # noqa: S603 (the wrk found on PATH, fixed arguments)
            [*command, url + call.path], capture_output=True, text=True, check=True
        ).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    latencies = {int(p): float(v) * _UNIT_MS[unit] for p, v, unit in _LATENCY.findall(output)}
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if rate is None or set(latencies) != {50, 99}:
        raise RuntimeError(f"unexpected wrk output:\n{output}")

    def count(pattern: str) -> int:
        found = re.search(pattern, output)
        return sum(map(int, re.findall(r"\d+", found[1]))) if found else 0

    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return WrkRun(
        float(rate[1]), latencies[50], latencies[99], count(r"Non-2xx or 3xx responses:\s+(\d+)"),
        count(r"Socket errors: (.*)"), count(r"Socket errors:.*timeout (\d+)"), cpu, output,
    )  # fmt: skip


@dataclass
class Tally:
    """What one httpx load run saw."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    sample: Any = None  # the first successful answer's JSON, to compare servers' shapes

    async def send(self, client: httpx.AsyncClient, call: Call) -> None:
        """One request; any non-2xx answer or transport error is an error."""
        started, failure = time.perf_counter(), None
        try:
            response = await client.request(call.method, call.path, json=call.body)
        except httpx.HTTPError as problem:
            response, failure = None, f"{call.method} {call.path}: {problem!r}"
        self.latencies.append(time.perf_counter() - started)
        if response is not None and not response.is_success:
            failure = f"{response.status_code} on {call.method} {call.path}: {response.text[:500]}"
        if failure is not None:
            self.errors += 1
            self.first_error = self.first_error or failure
        elif self.sample is None and response is not None:
            self.sample = response.json()


async def run_tasks(operation: Operation, concurrency: int, max_ops: int, seconds: float) -> int:
    """`operation` from `concurrency` tasks until `max_ops` are done or `seconds` pass; the
    number done."""
    deadline = time.perf_counter() + seconds
    budget = iter(range(max_ops))  # one shared budget: faster tasks take more of it

    async def task() -> int:
        done = 0
        for _ in budget:
            if time.perf_counter() >= deadline:
                break
            await operation()
            done += 1
        return done

    return sum(await asyncio.gather(*(task() for _ in range(concurrency))))


def median_rate(slices: Sequence[tuple[int, float]]) -> float:
    """The median slice's rate: a burst of other work moves it less than it moves the mean."""
    return statistics.median(done / seconds for done, seconds in slices)


async def rates_in_turns(
    operations: Sequence[Operation], concurrency: int, slices: int,
    budget: tuple[int, float], warm_up: tuple[int, float],
) -> list[float]:  # fmt: skip
    """Each operation's ops/s from `concurrency` tasks, after a warm-up of each (`warm_up`: ops
    and seconds), in `slices` slices sharing `budget` (ops, seconds), taken in turns with the
    order rotating: a change in the machine's load hits all operations alike."""
    for operation in operations:
        await run_tasks(operation, concurrency, *warm_up)
    done: list[list[tuple[int, float]]] = [[] for _ in operations]
    max_ops, seconds = budget[0] // slices, budget[1] / slices
    for turn in range(slices):
        for offset in range(len(operations)):
            index = (turn + offset) % len(operations)
            started = time.perf_counter()
            count = await run_tasks(operations[index], concurrency, max_ops, seconds)
            done[index].append((count, time.perf_counter() - started))
    return [median_rate(slices_done) for slices_done in done]


def load_client(base_url: str, concurrency: int, **options: Any) -> httpx.AsyncClient:
    """As many keep-alive connections as tasks, on loopback whatever proxy the environment names."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=base_url, limits=limits, trust_env=False, **options)


async def drive(client: httpx.AsyncClient, next_call: Callable[[], Call], concurrency: int,
                max_requests: int, seconds: float) -> Tally:  # fmt: skip
    """Requests from `concurrency` tasks until `max_requests` are sent or `seconds` pass."""
    tally = Tally()
    await run_tasks(lambda: tally.send(client, next_call()), concurrency, max_requests, seconds)
    return tally
