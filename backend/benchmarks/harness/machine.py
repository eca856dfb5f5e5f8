"""What the machine was doing: CPU time of processes (read from /proc), how busy all CPUs were,
and the load average around a run, which skews every figure when other work shares the cores."""

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from testkit.processes import children_of

CORES = os.cpu_count() or 1


def load_average() -> float:
    return os.getloadavg()[0]


@dataclass(frozen=True)
class Clock:
    """A run's start and the load average then; `closing()` is the line every report ends with."""

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
    """User + system CPU time from a /proc/.../stat file; None when it cannot be read. With
    `reaped_children`, also that of the children it has waited for (ended connections'
    backends, for a PostgreSQL postmaster)."""
    try:
        stat = Path(stat_path).read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name: utime, stime, cutime and cstime are the
    # 12th to the 15th.
    fields = [int(field) for field in stat.rsplit(")", 1)[1].split()[11:15]]
    ticks = sum(fields) if reaped_children else fields[0] + fields[1]
    return ticks / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (all its threads) so far; None without /proc."""
    return stat_cpu_seconds(f"/proc/{pid}/stat")


def run_queue_seconds(pid: int, tid: int) -> float | None:
    """How long a thread has waited, runnable, for a CPU (other work holding the cores); None
    without /proc schedstat."""
    try:
        return int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def process_tree_cpu_seconds(pid: int, *, reaped_children: bool = False) -> float | None:
    """CPU time of a process and its live children so far (and of its ended children, with
    `reaped_children`)."""
    own = stat_cpu_seconds(f"/proc/{pid}/stat", reaped_children=reaped_children)
    if own is None:
        return None
    return own + sum(process_cpu_seconds(child) or 0.0 for child in children_of(pid))


def cpu_ticks() -> tuple[int, int] | None:
    """The machine's (busy, total) CPU ticks since boot; None where there is no /proc."""
    try:
        first_line = Path("/proc/stat").read_text().splitlines()[0]
    except OSError:
        return None
    ticks = [int(value) for value in first_line.split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


async def machine_busy_share(seconds: float = 0.5) -> str:
    """How busy all CPUs were over `seconds`, as a percentage."""
    before = cpu_ticks()
    await asyncio.sleep(seconds)
    after = cpu_ticks()
    if before is None or after is None or after[1] == before[1]:
        return "unknown"
    return f"{(after[0] - before[0]) / (after[1] - before[1]):.0%}"
