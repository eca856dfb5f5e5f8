"""How a benchmark runs on this machine: on uvloop (as uvicorn runs the app), with SIGTERM taken
as Ctrl-C so that the finally blocks stop the servers and drop the databases; and what the
machine was doing: CPU time from /proc, how busy the CPUs were, the load average, which skews
every figure when other work shares the cores."""

import asyncio
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import uvloop

from testkit.processes import children_of

T = TypeVar("T")
CORES = os.cpu_count() or 1


def run_benchmark(benchmark: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """The benchmark's result; exit status 130 when interrupted, after the clean-up."""
    # The embedded server is stopped at exit, outside start_embedded_postgres's own filter.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return uvloop.run(benchmark())
    except KeyboardInterrupt:
        print("Interrupted: the servers are stopped and the databases dropped.", file=sys.stderr)
        sys.exit(130)


def load_average() -> float:
    return os.getloadavg()[0]


@dataclass(frozen=True)
class Clock:
    """A run's start and the load average then; `closing()` is the line a report ends with."""

    started: float = field(default_factory=time.perf_counter)
    load_before: float = field(default_factory=load_average)

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def closing(self) -> str:
        return (
            f"{CORES} cores; load average {self.load_before:.2f} before the run and "
            f"{load_average():.2f} at the end (other work on the machine skews every figure). "
            f"Took {self.seconds():.0f} s."
        )


def stat_cpu_seconds(stat_path: str, *, reaped_children: bool = False) -> float | None:
    """User + system CPU time from a /proc/.../stat file (with `reaped_children`, also that of
    the children it has waited for: a postmaster's ended backends); None when unreadable."""
    try:
        stat = Path(stat_path).read_text()
    except OSError:
        return None
    # utime, stime, cutime and cstime: the 12th to 15th fields after the command's name.
    ticks = [int(value) for value in stat.rsplit(")", 1)[1].split()[11:15]]
    return (sum(ticks) if reaped_children else ticks[0] + ticks[1]) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float | None:
    return stat_cpu_seconds(f"/proc/{pid}/stat")


def process_tree_cpu_seconds(pid: int, *, reaped_children: bool = False) -> float | None:
    """CPU time of a process and its live children (and its ended ones, with `reaped_children`)."""
    own = stat_cpu_seconds(f"/proc/{pid}/stat", reaped_children=reaped_children)
    if own is None:
        return None
    return own + sum(process_cpu_seconds(child) or 0.0 for child in children_of(pid))


def run_queue_seconds(pid: int, tid: int) -> float | None:
    """How long a thread has waited, runnable, for a CPU; None without /proc schedstat."""
    try:
        return int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def cpu_ticks() -> tuple[int, int]:
    """The machine's (busy, total) CPU ticks since boot."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # less idle and iowait


async def machine_busy_share(seconds: float = 0.5) -> str:
    """How busy all CPUs were over `seconds`, as a percentage."""
    before = cpu_ticks()
    await asyncio.sleep(seconds)
    after = cpu_ticks()
    return f"{(after[0] - before[0]) / max(after[1] - before[1], 1):.0%}"
