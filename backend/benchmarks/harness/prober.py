"""A server's latency under a benchmark's load, measured from outside it: a prober in a process
of its own (the load generator's event loop cannot delay it) sends GET /health every
PROBE_INTERVAL_SECONDS over one keep-alive connection, on a fixed schedule, and records when
each probe was scheduled, sent and answered on the monotonic clock every process shares. A
probe's lag counts from its scheduled time, so a stall weighs by its length."""

import asyncio
import http.client
import multiprocessing
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from urllib.parse import urlsplit

from benchmarks.harness.servers import Server

PROBE_INTERVAL_SECONDS = 0.010
PROBER_START_TIMEOUT_SECONDS = 30.0


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


@asynccontextmanager
async def prober(server: Server) -> AsyncIterator[tuple[int, Event, Connection]]:
    """The prober's pid, its stop event and the end its probes arrive on, probing from its first
    answer on; stopped when the block exits."""
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
        yield process.pid or 0, stop, receiver
    finally:
        stop.set()
        await asyncio.to_thread(process.join, 5)
        if process.is_alive():
            process.kill()
            process.join()


async def probes_when_stopped(
    stop: Event, results: Connection, answer_within: float
) -> list[Probe]:
    """The probes, once the prober has stopped and sent them (within `answer_within` s)."""
    stop.set()
    if not await asyncio.to_thread(results.poll, answer_within):
        raise RuntimeError("the prober did not answer")
    probes, error = results.recv()
    if error:
        raise RuntimeError(f"the prober failed: {error}")
    return list(probes)


def lags(probes: Sequence[Probe], since_sent: bool = False) -> list[float]:
    """Each probe's latency: from its scheduled time, or from when it was sent."""
    return [probe.answered - (probe.sent if since_sent else probe.scheduled) for probe in probes]
